//! The integrity part of `shardnet bench`: what possession proofs, audits and
//! the scrub cost on this machine, next to the limits they run into, measured
//! in the same run: the disk's cold sequential read, keyed BLAKE3 (one proof
//! answer per byte held), and a scrub pass over a real store (which reads
//! past the page cache where the file system allows `O_DIRECT`, so every
//! pass is a cold one). From these, the audit cost per GiB stored per day at
//! the default audit interval.

use crate::config::DEFAULT_AUDIT_INTERVAL;
use crate::output::mbps;
use shardnet_protocol::proof;
use shardnet_protocol::ShardId;
use shardnet_store::{ScrubOutcome, Store};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// One figure: (what, bytes, MB/s, note).
pub(super) type Figure = (String, u64, f64, String);

/// Asks the kernel to drop `path`'s cached pages (written pages are synced
/// first), so that the next read comes from the disk.
fn evict(path: &Path) -> std::io::Result<()> {
    let f = fs::OpenOptions::new().read(true).write(true).open(path)?;
    f.sync_all()?;
    // SAFETY: a valid open descriptor; the advice only drops clean cache.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

fn evict_tree(dir: &Path) {
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            let _ = evict(e.path());
        }
    }
}

/// Cold sequential read of `bytes` written, synced and evicted first, made
/// as the store makes its reads: `O_DIRECT` in `buf`-sized reads where the
/// file system allows it. (Read through the page cache, this figure was
/// the VM's first-touch rate, not the disk's: 573-739 MB/s in runs where a
/// scrub read the store's shards directly at 836-1,034 MB/s.)
pub(super) fn disk_read_limit(dir: &Path, bytes: usize, buf: &[u8]) -> anyhow::Result<f64> {
    use std::os::unix::fs::OpenOptionsExt;
    const ALIGN: usize = 4096;
    let path = dir.join("disk-read-limit.tmp");
    {
        let mut f = fs::File::create(&path)?;
        for _ in 0..bytes / buf.len() {
            f.write_all(buf)?;
        }
        f.sync_all()?;
    }
    evict(&path)?;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .or_else(|_| fs::File::open(&path))?;
    // An aligned window of a vector: direct reads land on a block boundary.
    let mut raw = vec![0u8; buf.len() + ALIGN];
    let off = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
    let b = &mut raw[off..off + buf.len()];
    let t = Instant::now();
    let mut n = 0;
    loop {
        let k = f.read(b)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let d = t.elapsed();
    drop(f);
    fs::remove_file(&path)?;
    Ok(mbps(n as u64, d))
}

/// Keyed BLAKE3 proof answers over `buf`, `rounds` times: MB/s on one core.
pub(super) fn proof_rate(buf: &[u8], rounds: usize) -> f64 {
    let nonce = [9u8; 32];
    let id = ShardId::of(buf);
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(proof::answer(&nonce, &id, std::hint::black_box(buf)));
    }
    mbps((buf.len() * rounds) as u64, t.elapsed())
}

fn scrub_all(store: &Store, ids: &[ShardId]) -> anyhow::Result<(u64, Duration)> {
    let t = Instant::now();
    let mut bytes = 0;
    for id in ids {
        match store.scrub_shard(id)? {
            ScrubOutcome::Healthy(n) => bytes += n,
            other => anyhow::bail!("scrub of a fresh store found {id}: {other:?}"),
        }
    }
    Ok((bytes, t.elapsed()))
}

/// A scrub pass over `store` (at full speed, tranquility 0), and the audit
/// cost that follows from the measured rates.
pub(super) fn figures(
    store: &Store,
    proof_mbps: f64,
    disk_read_mbps: f64,
) -> anyhow::Result<Vec<Figure>> {
    let mut ids = Vec::new();
    store.for_each_meta(|id, _| {
        ids.push(id);
        true
    })?;
    store.flush()?;
    evict_tree(store.path());
    let (bytes, cold) = scrub_all(store, &ids)?;
    let cold_mbps = mbps(bytes, cold);
    let mut out = vec![(
        "scrub pass (cold)".to_string(),
        bytes,
        cold_mbps,
        format!(
            "{} shards; {:.0}% of the disk's cold read",
            ids.len(),
            100.0 * cold_mbps / disk_read_mbps.max(1e-9)
        ),
    )];
    // Audits, per GiB held at 3 copies with the default interval: each copy
    // is proved by its 2 co-holders once per interval; the holder reads it
    // once per challenge, each challenger reads its own copy once per round.
    let days = DEFAULT_AUDIT_INTERVAL.as_secs_f64() / 86_400.0;
    let gib = (1u64 << 30) as f64;
    let read_per_day = (2.0 + 1.0) / days * gib;
    let cpu_secs = read_per_day / (proof_mbps * 1e6);
    let disk_secs = read_per_day / (cold_mbps.max(1e-9) * 1e6);
    let net_bytes = 2.0 / days * (gib / (1 << 20) as f64) * (32.0 + 33.0);
    out.push((
        "audit cost per GiB held per day".to_string(),
        read_per_day as u64,
        0.0,
        format!(
            "silver, {days:.0}-day interval: reads {:.2} GiB, {:.2} s CPU, {:.2} s disk, {:.0} KiB on the wire",
            read_per_day / gib,
            cpu_secs,
            disk_secs,
            net_bytes / 1024.0
        ),
    ));
    let scrub_per_day = gib / 14.0;
    out.push((
        "scrub cost per GiB held per day".to_string(),
        scrub_per_day as u64,
        0.0,
        format!(
            "14-day period: reads {:.3} GiB, {:.2} s disk",
            scrub_per_day / gib,
            scrub_per_day / (cold_mbps.max(1e-9) * 1e6)
        ),
    ));
    Ok(out)
}
