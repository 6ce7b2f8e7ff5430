//! A membership announcement from any peer of the swarm: decode, then the
//! heartbeat's bounds, which every node checks before hearing the sender.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::gossip(data));
