//! A Bao slice a holder returns to prove it holds a chunk: the verifier's
//! check for a shard id and chunk offset given by the first 40 bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::sample(data));
