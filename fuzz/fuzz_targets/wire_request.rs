//! A request body as any peer may send it: decode, then every check the
//! responder applies before acting on it; what decodes must re-encode to the
//! same message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shardnet_protocol::fuzzing::wire_request(data));
