//! shardnet-node: the node and the `shardnet` command line.
//!
//! - [`datadir`]: the data directory: node identity, owner key, store.
//! - [`backup`]: backup creation (walk, chunk, seal, store, manifest).
//! - [`restore`]: restoring a backup or a sub-path of it.
//! - [`verify`]: checking a backup's shards (metadata, or full decrypt).
//! - [`bench`]: the throughput benchmark behind `shardnet bench`.
//! - [`cli`] and [`commands`]: argument parsing and the command handlers.
//! - [`output`]: tables, sizes and times for human output.
//! - [`audit`]: possession proofs, the proof cache, peer evidence and reputation.
//! - [`scrub`]: the background re-read and re-hash of every held shard.

pub mod api;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod catalogue;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod datadir;
pub mod distribute;
pub mod distribution;
pub mod fault;
pub mod live;
pub mod manifests;
pub mod membership;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod ops;
pub mod output;
pub mod pieces;
pub mod prune;
pub(crate) mod rate;
pub mod reclaim;
pub mod repair;
pub mod restore;
pub mod rotate;
pub mod scrub;
pub mod settings;
pub mod shards;
pub mod storage;
pub mod swarm;
pub mod upkeep;
pub mod verify;
