//! The fuzz smoke run of the test suite: every input of the committed corpus
//! (`fuzz/corpus/<target>/`, grown by `scripts/fuzz.sh` with libFuzzer) goes
//! through the same function its fuzz target runs, plus a few thousand
//! mutations of each. A crash the fuzzer once found stays fixed.

use shardnet_protocol::fuzzing;
use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("wire_request", fuzzing::wire_request),
    ("wire_response", fuzzing::wire_response),
    ("envelope", fuzzing::envelope),
    ("manifest", fuzzing::manifest),
    ("catalogue", fuzzing::catalogue),
    ("gossip", fuzzing::gossip),
    ("shard_meta", fuzzing::shard_meta),
    ("sample", fuzzing::sample),
];

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(&manifest_dir())
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    inputs.sort();
    inputs
}

/// A cheap deterministic mutator (xorshift): flips, truncations and splices.
fn mutate(input: &[u8], seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v = input.to_vec();
    for _ in 0..1 + next() % 4 {
        if v.is_empty() {
            v.push(next() as u8);
            continue;
        }
        let at = (next() as usize) % v.len();
        match next() % 4 {
            0 => v[at] ^= 1 << (next() % 8),
            1 => v[at] = next() as u8,
            2 => v.truncate(at),
            _ => v.insert(at, next() as u8),
        }
    }
    v
}

#[test]
fn every_corpus_input_and_its_mutations_decode_without_panic() {
    for (name, run) in TARGETS {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "{name}: empty corpus");
        for (i, input) in inputs.iter().enumerate() {
            run(input);
            for m in 0..8 {
                run(&mutate(input, (i as u64) << 8 | m));
            }
        }
    }
}

/// This crate's directory: cargo's at run time, so that a test binary
/// reused from a build in another checkout (a shared target directory)
/// reads this checkout's files; the compile-time one otherwise.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
