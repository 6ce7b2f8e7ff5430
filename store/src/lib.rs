//! shardnet-store: each node's local shard store, on RocksDB.
//!
//! One RocksDB database per data dir with these column families:
//!
//! | CF        | key               | value                               |
//! |-----------|-------------------|-------------------------------------|
//! | `shards`  | shard id          | envelope bytes under 64 KiB (and older stores' blob files) |
//! | `locations` | shard id        | segment, offset, length of the bytes (`segments/*.seg`) |
//! | `meta`    | shard id          | [`ShardMeta`]: size, state, leases  |
//! | `backups` | backup id         | the owner's catalogue entry         |
//! | `chunks`  | hash of chunk key | shard id (the owner's dedup index)  |
//! | `audit`   | sequence (u64 BE) | [`AuditEvent`], append-only         |
//! | `catalogues` | owner public key | newest signed catalogue held for the swarm |
//! | `transfers` | priority, due, shard, peer | queued repair/handoff copies |
//! | `evidence` | peer, event number | what this node saw a peer do (audits) |
//! | `peers`   | peer              | the peer's reputation (score, isolation) |
//! | `state`   | name              | small node state (scrub progress)   |
//!
//! Invariants: a `meta` row exists iff a `shards` or `locations` row does
//! (a location's record is written first, synced before its row is durable,
//! and re-hashed at open if a crash came between), all written in one
//! atomic write batch together with the audit event that explains the change;
//! stored bytes always hashed to their id when written, and every read re-checks
//! that, reporting corruption instead of returning bad bytes. RocksDB types stay
//! inside this crate.

mod audit;
mod catalogue;
mod chunks;
mod compact;
mod db;
mod error;
mod evidence;
mod leases;
mod locations;
mod meta;
mod quarantine;
mod samples;
mod scrub;
mod segments;
mod shards;
mod transfers;

pub mod prune;
pub use audit::{AuditAction, AuditEvent, AuditFilter, ChainReport};
pub use compact::SegmentReclaim;
pub use db::{Store, StoreOptions, MAX_AVOID, MAX_OPEN_FILES};
pub use error::StoreError;
pub use evidence::{EvidenceRecord, MAX_EVIDENCE_PER_PEER};
pub use meta::{ShardMeta, ShardState};
pub use scrub::ScrubOutcome;
pub use shards::{PutOutcome, StoreStats};
pub use transfers::TransferJob;
