//! `shardnet bench`: backup and restore throughput on generated data, printed
//! next to this machine's own limits measured in the same run on the same 1 MiB
//! buffers (BLAKE3, AES-256-GCM, ChaCha20-Poly1305, zstd), plus peak memory of a
//! single large file's backup and restore. Nothing here is asserted: it is a
//! measurement for people (see FIELD-NOTES.md for the targets).

use crate::backup::{self, BackupOptions};
use crate::cli::BenchArgs;
use crate::datadir::DataDir;
use crate::output::{self, mbps};
use crate::restore;
use crate::shards::Local;
use anyhow::Context;
use rand::rngs::OsRng;
use shardnet_protocol::envelope;
use shardnet_protocol::{Cipher, MasterKey, Tier};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bytes pushed through each primitive when measuring the limits.
const LIMIT_BYTES: usize = 512 << 20;
const BUF: usize = 1 << 20;

/// One figure of any throughput mode (`--json` prints the same shape for
/// the single-node and the swarm bench, so scripts can compare runs).
#[derive(Debug, serde::Serialize)]
struct Row {
    what: String,
    bytes: u64,
    mb_per_s: f64,
    /// The limit the share is of, measured in the same run.
    limit: String,
    /// Percentage of that limit.
    share_of_limit_pct: f64,
    peak_rss_mib: Option<f64>,
    note: String,
}

/// The single-node figures' limit.
const AES_LIMIT: &str = "AES-256-GCM, 1 core";

/// The swarm bench's figures as rows, each with its bound from the same
/// run: raw request-response for a restore, raw ÷ copies for a backup
/// (every byte goes out once per copy).
fn swarm_rows(raw_rows: Vec<(String, u64, f64, String)>) -> Vec<Row> {
    let raw = raw_rows.first().map_or(1.0, |r| r.2).max(f64::MIN_POSITIVE);
    let copies = f64::from(shardnet_protocol::Tier::Silver.copies());
    raw_rows
        .into_iter()
        .map(|(what, bytes, mb_per_s, note)| {
            let (limit, bound) = if what.starts_with("swarm backup") {
                (format!("request-response / {copies} copies"), raw / copies)
            } else {
                ("request-response".to_string(), raw)
            };
            Row {
                what,
                bytes,
                mb_per_s,
                limit,
                share_of_limit_pct: 100.0 * mb_per_s / bound,
                peak_rss_mib: None,
                note,
            }
        })
        .collect()
}

fn time_loop(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..LIMIT_BYTES / BUF {
        f();
    }
    t.elapsed()
}

fn random_buf(seed: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new_keyed(&[seed; 32])
        .finalize_xof()
        .fill(&mut v);
    v
}

/// Single-core limits: (name, MB/s).
fn limits() -> Vec<(&'static str, f64)> {
    let buf = random_buf(1, BUF);
    let text = text_buf(2, BUF);
    let mut work = buf.clone();
    let key = [7u8; 32];
    let mut out = Vec::new();
    let m = |d: Duration| mbps(LIMIT_BYTES as u64, d);
    out.push((
        "BLAKE3 hash",
        m(time_loop(|| {
            std::hint::black_box(blake3::hash(&buf));
        })),
    ));
    out.push((
        "AES-256-GCM encrypt",
        m(time_loop(|| {
            std::hint::black_box(envelope::raw_encrypt_for_bench(
                Cipher::Aes256Gcm,
                &key,
                &mut work,
            ));
        })),
    ));
    out.push((
        "ChaCha20-Poly1305 encrypt",
        m(time_loop(|| {
            std::hint::black_box(envelope::raw_encrypt_for_bench(
                Cipher::ChaCha20Poly1305,
                &key,
                &mut work,
            ));
        })),
    ));
    out.push((
        "zstd-3 compress (text)",
        m(time_loop(|| {
            std::hint::black_box(zstd::bulk::compress(&text, 3).ok());
        })),
    ));
    out.push((
        "memcpy",
        m(time_loop(|| {
            work.copy_from_slice(std::hint::black_box(&buf));
        })),
    ));
    out
}

const WORDS: &[&str] = &[
    "shard",
    "peer",
    "backup",
    "restore",
    "the",
    "of",
    "and",
    "replica",
    "zone",
    "lease",
    "kademlia",
    "distance",
    "node",
    "bytes",
    "encrypted",
    "retention",
    "gold",
    "silver",
    "bronze",
    "critical",
    "repair",
    "gossip",
    "request",
    "response",
    "durability",
    "volunteer",
    "operator",
    "cluster",
];

/// Log-like text: compresses about 4:1 with zstd.
fn text_buf(seed: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut line = 0u64;
    while v.len() < len {
        line += 1;
        let _ = write!(v, "{line:08} ");
        for _ in 0..10 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.extend_from_slice(WORDS[(x >> 33) as usize % WORDS.len()].as_bytes());
            v.push(b' ');
            if (x >> 20) & 7 == 0 {
                let _ = write!(v, "{} ", (x >> 40) & 0xffff);
            }
        }
        v.push(b'\n');
    }
    v.truncate(len);
    v
}

/// Writes a data set of `total` bytes as files of at most `file_size`.
pub(crate) fn generate(
    dir: &Path,
    total: u64,
    compressible: bool,
    file_size: u64,
) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < total {
        let n = file_size.min(total - written);
        let mut f =
            std::io::BufWriter::new(fs::File::create(dir.join(format!("file-{i:04}.dat")))?);
        let mut left = n;
        let mut block = 0u64;
        while left > 0 {
            let len = (BUF as u64).min(left) as usize;
            let buf = if compressible {
                text_buf(i * 1_000_003 + block, len)
            } else {
                random_buf((i + block) as u8 ^ 0x5a, len)
            };
            let buf = if compressible {
                buf
            } else {
                scramble(buf, i, block)
            };
            f.write_all(&buf)?;
            left -= len as u64;
            block += 1;
        }
        // On disk before anything is timed: otherwise the kernel writes this
        // data back while the backup syncs its store, and the two share the disk.
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        written += n;
        i += 1;
    }
    Ok(())
}

/// Makes every incompressible block unique (no accidental dedup across files).
fn scramble(mut buf: Vec<u8>, file: u64, block: u64) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(&file.to_le_bytes());
    h.update(&block.to_le_bytes());
    h.finalize_xof().fill(&mut buf);
    buf
}

/// Peak RSS since the last reset, in MiB (Linux: VmHWM), and resets it.
fn peak_rss_mib_and_reset() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let _ = fs::write("/proc/self/clear_refs", "5");
    Some(kb / 1024.0)
}

struct Case<'a> {
    label: &'a str,
    src: PathBuf,
    bytes: u64,
}

fn backup_restore(
    work: &Path,
    case: &Case,
    aes: f64,
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
    let row = |what: String, d: Duration, rss: Option<f64>, note: String| Row {
        what,
        bytes: case.bytes,
        mb_per_s: mbps(case.bytes, d),
        limit: AES_LIMIT.into(),
        share_of_limit_pct: 100.0 * mbps(case.bytes, d) / aes,
        peak_rss_mib: rss,
        note,
    };
    peak_rss_mib_and_reset();
    let t = Instant::now();
    let r = backup::create(
        &Local(&store),
        &master,
        std::slice::from_ref(&case.src),
        &opts,
    )?;
    let d = t.elapsed();
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
    ));
    if dedup_too {
        let t = Instant::now();
        let r2 = backup::create(
            &Local(&store),
            &master,
            std::slice::from_ref(&case.src),
            &opts,
        )?;
        let note = format!("{} new shards", r2.entry.new_shards);
        rows.push(row(
            format!("re-backup unchanged {}", case.label),
            t.elapsed(),
            peak_rss_mib_and_reset(),
            note,
        ));
    }
    let dest = work.join(format!("restore-{}", case.label.replace(' ', "-")));
    let t = Instant::now();
    let rr = restore::restore(
        &Local(&store),
        &master,
        &r.entry.id,
        &dest,
        None,
        false,
        None,
    )?;
    let d = t.elapsed();
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
    ));
    // Untimed: the restored bytes are the original bytes.
    let name = case.src.file_name().context("source has a name")?;
    check_same(&case.src, &dest.join(name))?;
    if let Some((proof, disk_read)) = integrity {
        for (what, bytes, mb_per_s, note) in
            crate::bench_integrity::figures(&store, proof, disk_read)?
        {
            rows.push(Row {
                what,
                bytes,
                mb_per_s,
                limit: AES_LIMIT.into(),
                share_of_limit_pct: 100.0 * mb_per_s / aes,
                peak_rss_mib: None,
                note,
            });
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

/// Sequential write of `LIMIT_BYTES` in 1 MiB writes followed by fsync: the most
/// a backup can persist per second on this disk.
fn disk_limit(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("disk-limit.tmp");
    let buf = random_buf(3, BUF);
    let t = Instant::now();
    let mut f = fs::File::create(&path)?;
    for _ in 0..LIMIT_BYTES / BUF {
        f.write_all(&buf)?;
    }
    f.sync_all()?;
    let d = t.elapsed();
    drop(f);
    fs::remove_file(&path)?;
    Ok(mbps(LIMIT_BYTES as u64, d))
}

pub fn run(args: &BenchArgs, json: bool) -> anyhow::Result<i32> {
    let tmp;
    let work = match &args.dir {
        Some(d) => {
            fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("shardnet-bench-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let size = args.size.as_u64();
    if args.churn > 0 {
        let rows = crate::bench_churn::run(&work, size, args.churn)?;
        if json {
            let rows: Vec<_> = rows
                .iter()
                .map(|(what, value, note)| serde_json::json!({ "what": what, "value": value, "note": note }))
                .collect();
            crate::commands::print_json(&serde_json::json!({ "mode": "churn", "rows": rows }))?;
            return Ok(0);
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(a, b, c)| vec![a.clone(), b.clone(), c.clone()])
            .collect();
        println!(
            "shardnet bench --churn {}: real node processes on 127.0.0.1",
            args.churn
        );
        output::table(&["FIGURE", "VALUE", "NOTE"], &table);
        return Ok(0);
    }
    if !args.sybil.is_empty() {
        let (rate, rows) = crate::bench_sybil::run(&args.sybil);
        if json {
            crate::commands::print_json(
                &serde_json::json!({ "mode": "sybil", "keys_per_cpu_second": rate, "rows": rows }),
            )?;
            return Ok(0);
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.honest.to_string(),
                    r.copies.to_string(),
                    r.attacker_zones.clone(),
                    if r.majority {
                        format!("{:.0}", r.ids)
                    } else {
                        format!("never ({:.0} tried)", r.ids)
                    },
                    format!("{:.2}", r.cpu_secs),
                    format!("{:.1}", r.cpu_hours_default_work),
                ]
            })
            .collect();
        println!("shardnet bench --sybil: ids ground until they hold a majority of one chosen shard's responsible set (mean of 3)");
        println!(
            "key generation: {rate:.0} ids per CPU-second here; an id with the default {} bits of admission work costs {:.1} CPU-s",
            shardnet_protocol::admission::DEFAULT_DIFFICULTY,
            shardnet_protocol::admission::expected_tries(shardnet_protocol::admission::DEFAULT_DIFFICULTY) / rate
        );
        output::table(
            &[
                "HONEST PEERS",
                "COPIES",
                "ATTACKER ZONES",
                "IDS GENERATED",
                "CPU SECONDS",
                "CPU-HOURS WITH ADMISSION WORK",
            ],
            &table,
        );
        return Ok(0);
    }
    if args.swarm > 0 {
        let rows = swarm_rows(crate::bench_swarm::run(&work, size, args.swarm)?);
        if json {
            crate::commands::print_json(&serde_json::json!({
                "mode": "swarm",
                "nodes": args.swarm,
                "threads": rayon::current_num_threads(),
                "rows": rows,
            }))?;
            return Ok(0);
        }
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.what.clone(),
                    output::size(r.bytes),
                    format!("{:.0}", r.mb_per_s),
                    format!("{:.0}% of {}", r.share_of_limit_pct, r.limit),
                    r.note.clone(),
                ]
            })
            .collect();
        println!(
            "shardnet bench --swarm {}: real node processes on 127.0.0.1, data in page cache",
            args.swarm
        );
        output::table(
            &["OPERATION", "BYTES", "MB/S", "OF THE LIMIT", "NOTE"],
            &table,
        );
        return Ok(0);
    }
    eprintln!("measuring single-core limits on 1 MiB buffers...");
    let limits = limits();
    let aes = limits
        .iter()
        .find(|(n, _)| n.starts_with("AES"))
        .map(|l| l.1)
        .unwrap_or(1.0);
    let mut rows: Vec<Row> = limits
        .iter()
        .map(|(n, v)| Row {
            what: format!("limit: {n}"),
            bytes: LIMIT_BYTES as u64,
            mb_per_s: *v,
            limit: AES_LIMIT.into(),
            share_of_limit_pct: 100.0 * v / aes,
            peak_rss_mib: None,
            note: "1 core".into(),
        })
        .collect();
    let disk = disk_limit(&work)?;
    rows.push(Row {
        what: "limit: disk write + fsync".into(),
        bytes: LIMIT_BYTES as u64,
        mb_per_s: disk,
        limit: AES_LIMIT.into(),
        share_of_limit_pct: 100.0 * disk / aes,
        peak_rss_mib: None,
        note: "the store's disk".into(),
    });
    let disk_read =
        crate::bench_integrity::disk_read_limit(&work, LIMIT_BYTES, &random_buf(4, BUF))?;
    rows.push(Row {
        what: "limit: disk read, cold".into(),
        bytes: LIMIT_BYTES as u64,
        mb_per_s: disk_read,
        limit: AES_LIMIT.into(),
        share_of_limit_pct: 100.0 * disk_read / aes,
        peak_rss_mib: None,
        note: "the store's disk, pages evicted".into(),
    });
    let proof = crate::bench_integrity::proof_rate(&random_buf(5, BUF), LIMIT_BYTES / BUF);
    rows.push(Row {
        what: "possession proof answers".into(),
        bytes: LIMIT_BYTES as u64,
        mb_per_s: proof,
        limit: AES_LIMIT.into(),
        share_of_limit_pct: 100.0 * proof / aes,
        peak_rss_mib: None,
        note: "keyed BLAKE3, 1 core".into(),
    });
    let cases = [("incompressible", false), ("compressible", true)];
    for (label, compressible) in cases {
        eprintln!("generating {} of {label} data...", output::size(size));
        let src = work.join(format!("data-{label}"));
        generate(&src, size, compressible, 64 << 20)?;
        backup_restore(
            &work,
            &Case {
                label,
                src: src.clone(),
                bytes: size,
            },
            aes,
            &mut rows,
            !compressible,
            (!compressible).then_some((proof, disk_read)),
        )?;
        fs::remove_dir_all(&src)?;
    }
    let big = args.big_file.as_u64();
    if big > 0 {
        eprintln!("generating one {} file...", output::size(big));
        let src = work.join("data-big");
        generate(&src, big, false, big)?;
        let file = src.join("file-0000.dat");
        backup_restore(
            &work,
            &Case {
                label: "single big file",
                src: file,
                bytes: big,
            },
            aes,
            &mut rows,
            false,
            None,
        )?;
        fs::remove_dir_all(&src)?;
    }
    if json {
        crate::commands::print_json(&serde_json::json!({
            "mode": "single-node",
            "threads": rayon::current_num_threads(),
            "rows": rows,
        }))?;
        return Ok(0);
    }
    println!(
        "shardnet bench: {} threads, data in page cache, store on {}",
        rayon::current_num_threads(),
        work.display()
    );
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.what.clone(),
                output::size(r.bytes),
                format!("{:.0}", r.mb_per_s),
                format!("{:.0}%", r.share_of_limit_pct),
                r.peak_rss_mib
                    .map(|m| format!("{m:.0}"))
                    .unwrap_or_default(),
                r.note.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "OPERATION",
            "BYTES",
            "MB/S",
            "VS AES-GCM",
            "PEAK RSS MiB",
            "NOTE",
        ],
        &table,
    );
    Ok(0)
}
