//! shardnet-protocol: the pure heart of shardnet.
//!
//! Everything here is deterministic and free of I/O (no files, sockets, clocks or
//! OS randomness: callers pass `now` and an RNG in), so the node daemon, the store
//! and the simulator share one definition of every format and rule.
//!
//! Map of the crate:
//! - [`id`]: `ShardId` (BLAKE3 of a shard's bytes) and its hex form.
//! - [`keys`]: the owner master key, its derived keys and the recovery string.
//! - [`envelope`]: shard envelope v1: header + AEAD ciphertext, seal and open.
//! - [`chunking`]: content-defined chunking parameters (FastCDC, ~1 MiB average).
//! - [`manifest`]: a backup's file tree, split into shards under a root shard.
//! - [`tier`]: retention tiers (critical/gold/silver/bronze) and their maths.
//! - [`lease`]: who keeps a stored shard alive, and until when (owner-signed).
//! - [`codec`]: size-limited serde/bincode encoding used by every decoder.
//! - [`proof`]: possession proofs (keyed BLAKE3 over a fresh nonce and the shard).
//! - [`reputation`]: per-peer scores from audit evidence; vetting and isolation.
//! - [`purge`]: when a quarantined copy may go, must come back, or waits.
//! - [`window`]: maintenance windows (when deferrable work may run).

pub mod admission;
pub mod awareness;
pub mod catalogue;
pub mod chunking;
pub mod codec;
pub mod digest;
pub mod distribution;
pub mod envelope;
pub mod floor;
pub mod fuzzing;
pub mod gear;
pub mod gossip;
pub mod health;
pub mod id;
pub mod keys;
pub mod lease;
pub mod lifecycle;
pub mod manifest;
pub mod membership_cost;
pub mod meta;
pub mod netzone;
pub mod patience;
pub mod placement;
pub mod placement_index;
pub mod proof;
pub mod prune;
pub mod purge;
pub mod reclaim;
pub mod redundancy;
pub mod repair;
pub mod report;
pub mod reputation;
pub mod retention;
pub mod ring;
pub mod sample;
pub mod tier;
pub mod window;
pub mod wire;

pub use envelope::{Cipher, Compression, EnvelopeError, Sealed};
pub use id::{BackupId, ShardId};
pub use keys::{MasterKey, OwnerId, ShardKey};
pub use lease::{Avoid, Lease, Terms};
pub use tier::Tier;
