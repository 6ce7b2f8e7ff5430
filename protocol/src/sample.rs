//! Sampled possession proofs that need no copy: a shard's id is the BLAKE3
//! hash of its bytes, and BLAKE3 is a Merkle tree, so a holder can prove it
//! has any 1 KiB chunk of a shard by sending that chunk with the subtree
//! hashes on its path to the root (a Bao slice). Anyone who knows the id
//! checks it: the owner, on a machine with nothing but the owner key, checks
//! which peers hold its backup (`backup verify`).
//!
//! A sample proves one chunk, not the whole shard: a holder that kept a
//! share `f` of the bytes passes `k` random samples with probability `f^k`
//! (half the bytes and 4 samples: 6%). Audits between co-holders
//! (`proof`) still cover every byte.

use crate::ShardId;
use std::io::{Cursor, Read};

/// Bytes per sample: one BLAKE3 chunk.
pub const SAMPLE_LEN: u64 = 1024;
/// Most samples asked of one shard in one request.
pub const MAX_SAMPLES: usize = 8;
/// Largest slice a verifier reads for one sample: the chunk, the 8-byte
/// length, and two 32-byte hashes per tree level (a shard is at most
/// 8 MiB: 13 levels), with room to spare.
pub const MAX_SLICE_LEN: usize = 4096;

/// `k` chunk-aligned offsets below `size`, from `seed` (fresh per round, so
/// a holder cannot know them in advance).
pub fn offsets(seed: &[u8; 32], id: &ShardId, size: u64, k: usize) -> Vec<u64> {
    let chunks = size.div_ceil(SAMPLE_LEN).max(1);
    let mut h = blake3::Hasher::new_keyed(seed);
    h.update(&id.0);
    let mut xof = h.finalize_xof();
    (0..k.min(MAX_SAMPLES))
        .map(|_| {
            let mut b = [0u8; 8];
            xof.fill(&mut b);
            (u64::from_le_bytes(b) % chunks) * SAMPLE_LEN
        })
        .collect()
}

/// The holder's side: the slice proving the chunk at `start` of `bytes`
/// (past the end: the final chunk). One BLAKE3 pass over `bytes` builds the
/// tree; extra offsets cost nothing more.
pub fn extract(bytes: &[u8], starts: &[u64]) -> Vec<Vec<u8>> {
    let (outboard, _) = bao::encode::outboard(bytes);
    starts
        .iter()
        .map(|&start| {
            let mut slice = Vec::new();
            let mut ex = bao::encode::SliceExtractor::new_outboard(
                Cursor::new(bytes),
                Cursor::new(&outboard[..]),
                start,
                SAMPLE_LEN,
            );
            match ex.read_to_end(&mut slice) {
                Ok(_) => slice,
                Err(_) => Vec::new(),
            }
        })
        .collect()
}

/// The verifier's side: whether `slice` proves the chunk at `start` of the
/// shard `id`.
pub fn check(id: &ShardId, start: u64, slice: &[u8]) -> bool {
    if slice.is_empty() || slice.len() > MAX_SLICE_LEN {
        return false;
    }
    let hash = blake3::Hash::from_bytes(id.0);
    let mut out = Vec::new();
    bao::decode::SliceDecoder::new(slice, &hash, start, SAMPLE_LEN)
        .read_to_end(&mut out)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        let mut v = vec![0u8; len];
        blake3::Hasher::new_keyed(&[seed; 32])
            .finalize_xof()
            .fill(&mut v);
        v
    }

    #[test]
    fn a_holder_proves_chunks_and_a_forger_cannot() {
        let b = bytes((1 << 20) + 300, 1);
        let id = ShardId::of(&b);
        let starts = offsets(&[7; 32], &id, b.len() as u64, 4);
        assert_eq!(starts.len(), 4);
        assert!(starts
            .iter()
            .all(|s| s % SAMPLE_LEN == 0 && *s < b.len() as u64));
        let slices = extract(&b, &starts);
        for (s, sl) in starts.iter().zip(&slices) {
            assert!(sl.len() <= MAX_SLICE_LEN, "{}", sl.len());
            assert!(check(&id, *s, sl));
        }
        // Another shard's slice, a flipped byte, or the wrong offset fail.
        let other = bytes(b.len(), 2);
        let forged = extract(&other, &starts[..1]);
        assert!(!check(&id, starts[0], &forged[0]));
        let mut flipped = slices[0].clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        assert!(!check(&id, starts[0], &flipped));
        assert!(!check(&id, starts[0], &[]));
    }

    #[test]
    fn offsets_past_the_end_prove_the_final_chunk() {
        let b = bytes(5000, 3);
        let id = ShardId::of(&b);
        let sl = extract(&b, &[1 << 20]);
        assert!(check(&id, 1 << 20, &sl[0]));
    }

    proptest! {
        #[test]
        fn garbage_slices_never_panic_and_never_pass(
            slice in proptest::collection::vec(any::<u8>(), 0..3000),
            start in any::<u64>(),
            id in proptest::array::uniform32(any::<u8>()),
        ) {
            prop_assert!(!check(&ShardId(id), start, &slice));
        }

        #[test]
        fn any_offset_of_any_shard_round_trips(len in 1usize..70_000, seed in any::<u8>(), k in 0u64..100) {
            let b = bytes(len, seed);
            let id = ShardId::of(&b);
            let start = k * SAMPLE_LEN;
            let sl = extract(&b, &[start]);
            prop_assert!(check(&id, start, &sl[0]));
            let wrong = ShardId::of(&bytes(len, seed.wrapping_add(1)));
            prop_assert!(!check(&wrong, start, &sl[0]));
        }
    }
}
