//! What a durable group of peer stores costs, by group size: `put_shard`
//! of 1 MiB shards, made durable per group either by a flush of every
//! column family (how a holder committed groups until the WAL mode) or by
//! `Store::logged` (one WAL sync per group). Prints wall MB/s and the
//! process's CPU seconds per GB (every RocksDB thread included).
//!
//! `cargo run -p shardnet-store --example group_commit [DIR]`, with DIR on
//! the disk to measure (default: the system temp dir).

use shardnet_protocol::keys::OwnerId;
use shardnet_protocol::lease::Sig;
use shardnet_protocol::{Lease, ShardId};
use shardnet_store::Store;
use std::time::Instant;

const SHARDS: usize = 384;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let lease = Lease {
        owner: OwnerId([1; 32]),
        expires_at: u64::MAX / 2,
        copies: 3,
        sig: Sig([0; 64]),
    };
    let shards: Vec<(ShardId, Vec<u8>)> = (0..SHARDS)
        .map(|i| {
            let b: Vec<u8> = (0..1usize << 20)
                .map(|j| ((j as u64 * 2_654_435_761 + i as u64 * 97) >> 7) as u8)
                .collect();
            (ShardId::of(&b), b)
        })
        .collect();
    let mb = (SHARDS << 20) as f64 / 1e6;
    println!("group  flush: MB/s  CPU-s/GB   WAL sync: MB/s  CPU-s/GB");
    for group in [1usize, 2, 4, 8, 16, 32, 64] {
        let mut row = format!("{group:>5}");
        for logged in [false, true] {
            let dir = tempfile::tempdir_in(&base)?;
            let s = Store::open(dir.path())?;
            let (c0, t0) = (cpu_seconds(), Instant::now());
            for chunk in shards.chunks(group) {
                let put = || -> Result<(), shardnet_store::StoreError> {
                    for (id, b) in chunk {
                        s.put_shard(id, b, lease)?;
                    }
                    Ok(())
                };
                if logged {
                    s.logged(put)??;
                } else {
                    put()?;
                    s.flush()?;
                }
            }
            let (c, t) = (cpu_seconds() - c0, t0.elapsed().as_secs_f64());
            row += &format!("   {:>10.0}  {:>8.2}", mb / t, c / mb * 1e3);
        }
        println!("{row}");
    }
    Ok(())
}
