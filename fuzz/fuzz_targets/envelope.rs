//! A shard's bytes as a holder or a restoring node reads them: the header
//! decoder and the full open (decrypt, decompress) under a fixed key.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::envelope(data));
