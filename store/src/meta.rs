//! Per-shard metadata kept next to the bytes. The record and its decoder live
//! in `shardnet_protocol::meta` (pure, fuzzed without RocksDB); the store uses
//! them from here.

pub(crate) use shardnet_protocol::meta::{decode, MAX_META_LEN};
pub use shardnet_protocol::meta::{ShardMeta, ShardState};
