//! A response body as any peer may send it back: decode, then the checks a
//! requester applies (catalogue signature, Bao slices against the id).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::wire_response(data));
