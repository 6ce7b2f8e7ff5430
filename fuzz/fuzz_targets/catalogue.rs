//! An owner's catalogue as a slot holder stores it and a restoring machine
//! reads it: the signed record, its signature check, its opening under a
//! fixed master key, and the decoder of the entries' plaintext.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::catalogue(data));
