//! The machine's own limits, measured in the same run as the figures they
//! bound: single-core BLAKE3, AES-256-GCM, ChaCha20-Poly1305, zstd,
//! Reed–Solomon pieces and memcpy on 1 MiB buffers, with the exact code and
//! compiler settings shards use; the store disk's sequential write + fsync
//! rate; and the rate at which the kernel takes a new file into the page
//! cache (what a restore writes into).

use super::data::{random_buf, text_buf};
use super::{BUF, LIMIT_BYTES};
use crate::output::mbps;
use shardnet_protocol::envelope;
use shardnet_protocol::redundancy::{stripe, Scheme};
use shardnet_protocol::Cipher;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn time_loop(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..LIMIT_BYTES / BUF {
        f();
    }
    t.elapsed()
}

/// Single-core BLAKE3 and AES-256-GCM on 1 MiB buffers: (name, MB/s). The
/// two limits every mode of the bench is compared with.
pub(crate) fn hash_and_seal() -> Vec<(&'static str, f64)> {
    let buf = random_buf(1, BUF);
    let mut work = buf.clone();
    let key = [7u8; 32];
    let m = |d: Duration| mbps(LIMIT_BYTES as u64, d);
    vec![
        (
            "BLAKE3 hash",
            m(time_loop(|| {
                std::hint::black_box(blake3::hash(&buf));
            })),
        ),
        (
            "AES-256-GCM encrypt",
            m(time_loop(|| {
                std::hint::black_box(envelope::raw_encrypt_for_bench(
                    Cipher::Aes256Gcm,
                    &key,
                    &mut work,
                ));
            })),
        ),
    ]
}

/// Single-core limits: (name, MB/s).
pub(crate) fn limits() -> Vec<(&'static str, f64)> {
    let buf = random_buf(1, BUF);
    let text = text_buf(2, BUF);
    let mut work = buf.clone();
    let key = [7u8; 32];
    let mut out = hash_and_seal();
    let m = |d: Duration| mbps(LIMIT_BYTES as u64, d);
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
    // Erasure coding at the simulator's scheme: the cost per shard byte of
    // cutting a sealed shard into pieces (BLAKE3 of the shard for the
    // headers included), and of restoring it from the four pieces left when
    // three data pieces are lost (the shard's BLAKE3 check included).
    let scheme = Scheme::Rs { data: 4, parity: 3 };
    out.push((
        "rs 4+3 encode into pieces",
        m(time_loop(|| {
            std::hint::black_box(stripe::encode(scheme, &buf).ok());
        })),
    ));
    let left: Vec<stripe::Piece> = stripe::encode(scheme, &buf)
        .map(|p| p.into_iter().skip(3).collect())
        .unwrap_or_default();
    out.push((
        "rs 4+3 decode, 3 pieces lost",
        m(time_loop(|| {
            std::hint::black_box(stripe::decode(&left).ok());
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

/// Sequential write of `LIMIT_BYTES` in 1 MiB writes followed by fsync: the most
/// a backup can persist per second on this disk.
pub(crate) fn disk_limit(dir: &Path) -> anyhow::Result<f64> {
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

/// Writes of `LIMIT_BYTES` into a new file without fsync, twice: the page
/// cache's rate on memory the kernel hands out for the first time, and on
/// the pages just freed. On a VM whose balloon reports free pages to the
/// host (`virtio_balloon` free page reporting), the first touch of such
/// memory faults on the host: 0.3 against 3.0 GB/s measured here for 3 GiB.
/// This, not shardnet, is why a process's first restore (which writes into
/// new page-cache pages) ran 1.5-3x slower than the next one.
pub(crate) fn page_cache_limits(dir: &Path) -> anyhow::Result<(f64, f64)> {
    let path = dir.join("page-cache-limit.tmp");
    let buf = random_buf(6, BUF);
    let once = || -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut f = fs::File::create(&path)?;
        for _ in 0..LIMIT_BYTES / BUF {
            f.write_all(&buf)?;
        }
        let d = t.elapsed();
        drop(f);
        fs::remove_file(&path)?;
        Ok(mbps(LIMIT_BYTES as u64, d))
    };
    Ok((once()?, once()?))
}
