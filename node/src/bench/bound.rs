//! The CPU bound of a backup: what the machine's cores could do if they did
//! nothing but the work every byte needs, each stage at its own single-core
//! rate measured in the same run.
//!
//! Why: a single limit (AES-GCM, or raw request-response ÷ copies) charges a
//! backup for one stage only. A backup also reads each byte from the page
//! cache, finds its cut points, and hashes it twice (its key and its
//! address); in a swarm on one machine the holders' processes also hash
//! every copy twice (the address check and the receipt proof) on the same
//! cores. Stage costs add up per byte, so the bound of `n` cores is
//! `n ÷ Σ(1 ÷ rate)`. It leaves out the store's writes, scheduling and
//! copies: it is an upper bound, and a figure's share of it says how much
//! time goes beyond the work itself.

use super::data::random_buf;
use super::{Row, AES_LIMIT, BUF, LIMIT_BYTES};
use crate::output::mbps;
use shardnet_protocol::gear;
use std::fs;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

/// Single-core rates (MB/s) of the stages every backed-up byte goes through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stages {
    /// `pread` of a file in the page cache into a reused 1 MiB buffer.
    pub(crate) read: f64,
    /// FastCDC's cut points (`gear::hits`, as the backup scans blocks).
    pub(crate) chunk: f64,
    pub(crate) blake3: f64,
    pub(crate) aes: f64,
}

/// Costs per byte, in seconds per MB.
fn cost(rates: &[f64]) -> f64 {
    rates.iter().map(|r| 1.0 / r.max(f64::MIN_POSITIVE)).sum()
}

impl Stages {
    /// Measures the stages on `LIMIT_BYTES` (the page-cache read on a file
    /// written into `dir` and read once before it is timed).
    pub(crate) fn measure(dir: &Path, blake3: f64, aes: f64) -> anyhow::Result<Stages> {
        let buf = random_buf(8, BUF);
        let t = Instant::now();
        let mut hits = Vec::new();
        for _ in 0..LIMIT_BYTES / BUF {
            hits.clear();
            gear::hits(&[], std::hint::black_box(&buf), 0, &mut hits);
            std::hint::black_box(&hits);
        }
        let chunk = mbps(LIMIT_BYTES as u64, t.elapsed());
        Ok(Stages {
            read: page_cache_read(dir, &buf)?,
            chunk,
            blake3,
            aes,
        })
    }

    /// Seconds per MB of the owner's own work on one byte: read, cut, the
    /// key's and the address's hashes, sealing.
    fn owner(&self) -> f64 {
        cost(&[self.read, self.chunk, self.blake3, self.blake3, self.aes])
    }

    /// MB/s that `cores` cores reach doing only a single node's backup work.
    pub(crate) fn backup_bound(&self, cores: usize) -> f64 {
        cores as f64 / self.owner()
    }

    /// MB/s that `cores` cores reach doing only a swarm backup's work on
    /// one machine: the owner's, plus per stored byte (`stored` per byte
    /// backed up) the transport's CPU (`transport_cpu_s_per_gb`, both
    /// peers, as the raw request-response figure measured it) and a
    /// holder's two hashes, plus the owner's receipt hash per byte sent
    /// (one per shard for copies, which share a nonce; one per piece).
    pub(crate) fn swarm_bound(
        &self,
        cores: usize,
        stored: f64,
        pieces: bool,
        transport_cpu_s_per_gb: f64,
    ) -> f64 {
        let receipt = if pieces { stored } else { 1.0 };
        let per_mb = self.owner()
            + receipt / self.blake3
            + stored * (transport_cpu_s_per_gb / 1000.0 + 2.0 / self.blake3);
        cores as f64 / per_mb
    }

    /// The stage rows and the bound's row, next to AES (`aes`).
    pub(crate) fn rows(&self, cores: usize) -> Vec<Row> {
        let of_aes = |what: &str, v: f64, note: &str| {
            Row::rate(what, LIMIT_BYTES as u64, v, (AES_LIMIT, self.aes), note)
        };
        vec![
            of_aes(
                "limit: page-cache read",
                self.read,
                "1 core, pread into a reused 1 MiB buffer",
            ),
            of_aes(
                "limit: FastCDC cut points",
                self.chunk,
                "1 core, the backup's 4-lane gear scan",
            ),
            of_aes(
                &format!("limit: backup work on {cores} cores"),
                self.backup_bound(cores),
                &format!("{cores} cores ÷ (page-cache read + cut points + 2 BLAKE3 + AES-GCM) per byte; writes not counted"),
            ),
        ]
    }
}

/// Rate of reading a file held in the page cache, as the backup reads
/// (`pread` into a reused buffer).
fn page_cache_read(dir: &Path, buf: &[u8]) -> anyhow::Result<f64> {
    let path = dir.join("page-cache-read.tmp");
    let mut f = fs::File::create(&path)?;
    for _ in 0..LIMIT_BYTES / buf.len() {
        f.write_all(buf)?;
    }
    drop(f);
    let f = fs::File::open(&path)?;
    let mut into = vec![0u8; buf.len()];
    let pass = |into: &mut [u8]| -> anyhow::Result<f64> {
        let t = Instant::now();
        let mut off = 0u64;
        loop {
            let n = f.read_at(into, off)?;
            if n == 0 {
                break;
            }
            off += n as u64;
        }
        Ok(mbps(off, t.elapsed()))
    };
    // The first pass settles the pages (written just now); the second is timed.
    pass(&mut into)?;
    let rate = pass(&mut into);
    drop(f);
    fs::remove_file(&path)?;
    rate
}

/// The stages, with BLAKE3 and AES-GCM from `limits` (as
/// `limits::hash_and_seal` names them) and the rest measured now.
pub(crate) fn from_limits(dir: &Path, limits: &[(&str, f64)]) -> anyhow::Result<Stages> {
    let find = |p: &str| {
        limits
            .iter()
            .find(|(n, _)| n.starts_with(p))
            .map_or(f64::MIN_POSITIVE, |l| l.1)
    };
    Stages::measure(dir, find("BLAKE3"), find("AES"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_add_stage_costs() {
        let s = Stages {
            read: 1000.0,
            chunk: 1000.0,
            blake3: 1000.0,
            aes: 1000.0,
        };
        // Five stages at 1,000 MB/s: 200 MB/s per core.
        assert!((s.backup_bound(2) - 400.0).abs() < 1e-9);
        // Three copies, transport 1 CPU-s/GB (1 ms/MB): owner 5 + receipt 1
        // + 3 × (transport 1 + 2 hashes) = 15 ms/MB.
        assert!((s.swarm_bound(3, 3.0, false, 1.0) - 200.0).abs() < 1e-9);
        // Pieces: one receipt per stored byte.
        assert!((s.swarm_bound(2, 2.0, true, 1.0) - 2.0 / 0.013).abs() < 1e-9);
    }
}
