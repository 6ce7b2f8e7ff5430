//! The metadata record a node's store keeps per shard, in this version or
//! any earlier one (read back from disk after upgrades and crashes).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::shard_meta(data));
