//! A backup's manifest after decryption: the root and manifest decoders with
//! their path checks (a manifest comes from the swarm and names the files a
//! restore writes), and the root shard opened whole under a fixed master key.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::manifest(data));
