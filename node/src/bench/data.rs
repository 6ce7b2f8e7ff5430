//! The bench's data: random (incompressible, every block unique) and log-like
//! (compressible about 4:1) buffers and data sets, written and synced before
//! anything is timed.

use super::BUF;
use std::fs;
use std::io::Write;
use std::path::Path;

pub(crate) fn random_buf(seed: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new_keyed(&[seed; 32])
        .finalize_xof()
        .fill(&mut v);
    v
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
pub(crate) fn text_buf(seed: u64, len: usize) -> Vec<u8> {
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
