//! The single-node bench: backup, unchanged re-backup and restore of generated
//! data sets through a real RocksDB store, each next to its limit from the same
//! run, with the peak RSS of each operation.

use super::data::{generate, random_buf};
use super::{cpu_seconds, Row, AES_LIMIT, BUF, LIMIT_BYTES};
use crate::backup::{self, BackupOptions};
use crate::datadir::DataDir;
use crate::output::{self, mbps};
use crate::restore;
use crate::shards::Local;
use anyhow::Context;
use rand::rngs::OsRng;
use shardnet_protocol::{Cipher, MasterKey, Tier};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Peak RSS since the last reset, in MiB (Linux: VmHWM), and resets it.
/// Before the reset, memory freed by earlier operations goes back to the
/// system (`malloc_trim`): glibc keeps freed memory in each thread's arena,
/// and the next operation's peak would otherwise count what the last one
/// left behind.
fn peak_rss_mib_and_reset() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe { libc::malloc_trim(0) };
    let _ = fs::write("/proc/self/clear_refs", "5");
    Some(kb / 1024.0)
}

/// Wall and CPU time of one operation.
struct Timer(Instant, f64);

impl Timer {
    fn start() -> Self {
        Timer(Instant::now(), cpu_seconds())
    }
    fn done(&self) -> (Duration, f64) {
        (self.0.elapsed(), cpu_seconds() - self.1)
    }
}

/// The limit of a backup: the lower of single-core sealing and the disk.
const BACKUP_LIMIT: &str = "lower of AES-256-GCM (1 core) and disk write + fsync";

/// The limit of a restore: the lower of single-core opening and the disk,
/// which reads the stored bytes from the store and writes the restored
/// ones to the destination. In the bench both are on one disk, so the disk
/// does both in turn: `1 / (stored / read + 1 / write)` per restored byte,
/// `stored` being below 1 for compressed data. With the store in memory
/// instead, a 1 GiB restore here took 0.75 s (1.43 GB/s, 86% of the
/// 1,661 MB/s AES of a bench run just before), against 0.90-1.00 s with
/// the store on the destination's disk.
const RESTORE_LIMIT: &str =
    "lower of AES-256-GCM (1 core) and the disk reading and writing (stored bytes read, restored bytes written)";

/// A limit's name as the table shows it.
pub(super) fn short(limit: &str) -> &str {
    match limit {
        BACKUP_LIMIT => "min(AES, disk)",
        RESTORE_LIMIT => "min(AES, disk r+w)",
        AES_LIMIT => "AES",
        other => other,
    }
}

/// The limits the figures are compared with, from the same run (MB/s).
pub(crate) struct Limits {
    aes: f64,
    /// Write + fsync.
    disk: f64,
    /// Cold read.
    disk_read: f64,
    /// The cores' bound doing only a backup's work (`bound::Stages`).
    work: f64,
}

pub(crate) struct Case<'a> {
    pub(crate) label: &'a str,
    pub(crate) src: PathBuf,
    pub(crate) bytes: u64,
    /// Compressible data: zstd's stage, left out of the work bound, is the wall.
    pub(crate) compressible: bool,
}

pub(crate) fn backup_restore(
    work: &Path,
    case: &Case,
    lim: &Limits,
    rows: &mut Vec<Row>,
    dedup_too: bool,
    integrity: Option<(f64, f64)>,
) -> anyhow::Result<()> {
    let dd = DataDir::new(work.join(format!("node-{}", case.label.replace(' ', "-"))));
    let master = MasterKey::generate(&mut OsRng);
    dd.init(&master, 0)?;
    let store = dd.open_store()?;
    let opts = BackupOptions {
        name: case.label.into(),
        tier: Tier::Silver,
        cipher: Cipher::Aes256Gcm,
        now: output::now_unix(),
        progress: None,
        exclude: vec![],
        rules: Default::default(),
    };
    let aes = lim.aes;
    // `stored`: bytes the store holds per byte of the data set (a restore
    // reads those).
    let gb = case.bytes as f64 / 1e9;
    let row =
        |what: String, (d, cpu): (Duration, f64), rss: Option<f64>, note: String, stored: f64| {
            // A backup persists every byte: its limit is the lower of sealing
            // and the disk. A restore reads every byte from the store's disk and
            // writes it to the destination's: the lower of opening and both.
            // A re-backup of unchanged data only reads the source: sealing's.
            let rate = mbps(case.bytes, d);
            let (limit, bound, note) = if what.starts_with("backup") {
                let note = match case.compressible {
                    false => format!(
                        "{note}; {:.0}% of min(work bound, disk)",
                        100.0 * rate / lim.work.min(lim.disk)
                    ),
                    true => note,
                };
                (BACKUP_LIMIT, lim.aes.min(lim.disk), note)
            } else if what.starts_with("restore") {
                let of_aes = format!("{note}; {:.0}% of AES", 100.0 * rate / lim.aes);
                // The store holds `stored` bytes per byte restored (less when
                // compressed): the disk reads those, then writes the whole byte.
                let disk = 1.0 / (stored / lim.disk_read + 1.0 / lim.disk);
                (RESTORE_LIMIT, lim.aes.min(disk), of_aes)
            } else {
                (AES_LIMIT, lim.aes, note)
            };
            // Cores busy on average: CPU-s per second of wall time. Near all
            // of them, the work per byte is the wall, not waiting.
            let cores = rayon::current_num_threads() as f64;
            let note = match d.as_secs_f64() {
                w if cpu.is_finite() && w > 0.0 => {
                    format!(
                        "{note}; {:.0}% of {cores} cores busy",
                        100.0 * cpu / w / cores
                    )
                }
                _ => note,
            };
            Row {
                peak_rss_mib: rss,
                cpu_s_per_gb: cpu.is_finite().then_some(cpu / gb),
                ..Row::rate(what, case.bytes, rate, (limit, bound), note)
            }
        };
    peak_rss_mib_and_reset();
    let t = Timer::start();
    let r = backup::create(
        &Local(&store),
        &master,
        std::slice::from_ref(&case.src),
        &opts,
    )?;
    let d = t.done();
    let note = format!(
        "{} shards, stored {}",
        r.entry.shards,
        output::size(r.entry.stored_bytes)
    );
    rows.push(row(
        format!("backup {}", case.label),
        d,
        peak_rss_mib_and_reset(),
        note,
        1.0,
    ));
    // Bytes the store holds per byte of the data set (below 1 if compressed).
    let stored = r.entry.stored_bytes as f64 / case.bytes.max(1) as f64;
    if dedup_too {
        let t = Timer::start();
        let r2 = backup::create(
            &Local(&store),
            &master,
            std::slice::from_ref(&case.src),
            &opts,
        )?;
        let note = format!("{} new shards", r2.entry.new_shards);
        rows.push(row(
            format!("re-backup unchanged {}", case.label),
            t.done(),
            peak_rss_mib_and_reset(),
            note,
            1.0,
        ));
    }
    let dest = work.join(format!("restore-{}", case.label.replace(' ', "-")));
    let t = Timer::start();
    let rr = restore::restore(
        &Local(&store),
        &master,
        &r.entry.id,
        &dest,
        None,
        false,
        None,
    )?;
    let d = t.done();
    anyhow::ensure!(
        rr.failed.is_empty() && rr.bytes == case.bytes,
        "restore of {} incomplete: {:?}",
        case.label,
        rr.failed
    );
    rows.push(row(
        format!("restore {}", case.label),
        d,
        peak_rss_mib_and_reset(),
        format!("{} files", rr.files),
        stored,
    ));
    // Untimed: the restored bytes are the original bytes.
    let name = case.src.file_name().context("source has a name")?;
    check_same(&case.src, &dest.join(name))?;
    if let Some((proof, disk_read)) = integrity {
        for (what, bytes, mb_per_s, note) in super::integrity::figures(&store, proof, disk_read)? {
            rows.push(Row::rate(what, bytes, mb_per_s, (AES_LIMIT, aes), note));
        }
    }
    drop(store);
    let _ = fs::remove_dir_all(&dest);
    let _ = fs::remove_dir_all(dd.root());
    Ok(())
}

fn check_same(a: &Path, b: &Path) -> anyhow::Result<()> {
    let hash = |p: &Path| -> anyhow::Result<blake3::Hash> {
        let mut h = blake3::Hasher::new();
        h.update_reader(fs::File::open(p)?)?;
        Ok(h.finalize())
    };
    if a.is_dir() {
        for e in fs::read_dir(a)? {
            let e = e?;
            check_same(&e.path(), &b.join(e.file_name()))?;
        }
        return Ok(());
    }
    anyhow::ensure!(
        hash(a)? == hash(b)?,
        "restored {} differs from the original",
        b.display()
    );
    Ok(())
}

/// Runs the single-node bench and prints its figures (a table, or JSON).
pub(crate) fn report(work: &Path, size: u64, big: u64, json: bool) -> anyhow::Result<()> {
    eprintln!("measuring single-core limits on 1 MiB buffers...");
    let limits = super::limits::limits();
    let aes = limits
        .iter()
        .find(|(n, _)| n.starts_with("AES"))
        .map(|l| l.1)
        .unwrap_or(1.0);
    // A limit's figure, as a share of AES (the limits' common yardstick).
    let of_aes = |what: String, v: f64, note: &str| {
        Row::rate(what, LIMIT_BYTES as u64, v, (AES_LIMIT, aes), note)
    };
    let mut rows: Vec<Row> = limits
        .iter()
        .map(|(n, v)| of_aes(format!("limit: {n}"), *v, "1 core"))
        .collect();
    // Before the disk's limit, whose freed pages it would reuse.
    let (fresh, again) = super::limits::page_cache_limits(work)?;
    for (what, v, note) in [
        (
            "first",
            fresh,
            "new file, no fsync: memory touched for the first time",
        ),
        ("again", again, "the same again: pages just freed"),
    ] {
        rows.push(of_aes(format!("limit: page-cache write, {what}"), v, note));
    }
    let disk = super::limits::disk_limit(work)?;
    rows.push(of_aes(
        "limit: disk write + fsync".into(),
        disk,
        "the store's disk",
    ));
    let disk_read = super::integrity::disk_read_limit(work, LIMIT_BYTES, &random_buf(4, BUF))?;
    rows.push(of_aes(
        "limit: disk read, cold".into(),
        disk_read,
        "the store's disk, pages evicted, read with O_DIRECT as the store reads",
    ));
    let disk_rw = 1.0 / (1.0 / disk_read + 1.0 / disk);
    rows.push(of_aes(
        "limit: disk read + write".into(),
        disk_rw,
        "each byte read cold, then written: a restore on one disk",
    ));
    let cores = rayon::current_num_threads();
    let stages = super::bound::from_limits(work, &limits)?;
    rows.extend(stages.rows(cores));
    let lim = Limits {
        aes,
        disk,
        disk_read,
        work: stages.backup_bound(cores),
    };
    let proof = super::integrity::proof_rate(&random_buf(5, BUF), LIMIT_BYTES / BUF);
    rows.push(of_aes(
        "possession proof answers".into(),
        proof,
        "keyed BLAKE3, 1 core",
    ));
    let cases = [("incompressible", false), ("compressible", true)];
    for (label, compressible) in cases {
        eprintln!("generating {} of {label} data...", output::size(size));
        let src = work.join(format!("data-{label}"));
        generate(&src, size, compressible, 64 << 20)?;
        backup_restore(
            work,
            &Case {
                label,
                src: src.clone(),
                bytes: size,
                compressible,
            },
            &lim,
            &mut rows,
            !compressible,
            (!compressible).then_some((proof, disk_read)),
        )?;
        fs::remove_dir_all(&src)?;
    }
    if big > 0 {
        eprintln!("generating one {} file...", output::size(big));
        let src = work.join("data-big");
        generate(&src, big, false, big)?;
        let file = src.join("file-0000.dat");
        backup_restore(
            work,
            &Case {
                label: "single big file",
                src: file,
                bytes: big,
                compressible: false,
            },
            &lim,
            &mut rows,
            false,
            None,
        )?;
        fs::remove_dir_all(&src)?;
    }
    let title = format!(
        "shardnet bench: {} threads, data in page cache, store on {}",
        rayon::current_num_threads(),
        work.display()
    );
    super::print_rows("single-node", serde_json::json!({}), &title, &rows, json)
}
