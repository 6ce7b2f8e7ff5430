//! Admission cost of a peer id: a peer id counts in responsible sets only
//! when BLAKE3 of it (under a fixed context) starts with `difficulty` zero
//! bits, a static crypto puzzle as in S/Kademlia. Making an id costs about
//! `2^difficulty` key generations; checking one costs one hash.
//!
//! Why: an id is otherwise free (an ed25519 key), so an attacker can grind
//! ids until enough land closest to a chosen shard (`shardnet bench --sybil`
//! measures how many). The puzzle multiplies that by `2^difficulty`, and it
//! is independent of placement (SHA-256 of the id), so no id is cheaper for
//! being close to a target. Every node of a swarm must use the same
//! difficulty, as with the swarm key: a node that asks for more than another
//! leaves that node's light ids out of its sets.

/// Context of the puzzle hash (a changed puzzle is a new context).
const CONTEXT: &str = "shardnet 2026-12 peer id admission v1";

/// The default difficulty of an open swarm: about 2^20 key generations per
/// id (seconds on all cores of a laptop, once per node).
pub const DEFAULT_DIFFICULTY: u8 = 20;

/// Highest difficulty accepted in configuration (2^32 key generations, days
/// of CPU per id).
pub const MAX_DIFFICULTY: u8 = 32;

/// Leading zero bits of the puzzle hash of `peer_id_bytes`: the work the id
/// carries.
pub fn work(peer_id_bytes: &[u8]) -> u32 {
    let h = blake3::derive_key(CONTEXT, peer_id_bytes);
    let mut bits = 0;
    for b in h {
        if b == 0 {
            bits += 8;
            continue;
        }
        bits += b.leading_zeros();
        break;
    }
    bits
}

/// Whether `peer_id_bytes` carries at least `difficulty` bits of work.
pub fn admitted(peer_id_bytes: &[u8], difficulty: u8) -> bool {
    difficulty == 0 || work(peer_id_bytes) >= u32::from(difficulty)
}

/// Expected key generations to make one admitted id.
pub fn expected_tries(difficulty: u8) -> f64 {
    2f64.powi(i32::from(difficulty))
}

/// Makes candidates with `make` (a new key and its peer id bytes) until one
/// is admitted at `difficulty`, or `stop` says to give up (another thread
/// found one). Returns the key and the tries, or `None` when stopped.
pub fn grind<K>(
    difficulty: u8,
    mut make: impl FnMut() -> (K, Vec<u8>),
    stop: impl Fn() -> bool,
) -> (Option<K>, u64) {
    let mut tries = 0u64;
    loop {
        tries += 1;
        let (k, id) = make();
        if admitted(&id, difficulty) {
            return (Some(k), tries);
        }
        if tries.is_multiple_of(1024) && stop() {
            return (None, tries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grinding_finds_an_admitted_id_in_about_two_to_the_difficulty_tries() {
        let mut n = 0u64;
        let mut total = 0u64;
        for _ in 0..50 {
            let (k, tries) = grind(
                8,
                || {
                    n += 1;
                    (n, n.to_le_bytes().to_vec())
                },
                || false,
            );
            let k = k.unwrap();
            assert!(admitted(&k.to_le_bytes(), 8));
            assert!(work(&k.to_le_bytes()) >= 8);
            total += tries;
        }
        // Mean of 50 geometric draws with p = 1/256: well within 128..512.
        let mean = total as f64 / 50.0;
        assert!((128.0..512.0).contains(&mean), "{mean}");
    }

    #[test]
    fn a_stopped_grind_returns_nothing() {
        let (k, tries) = grind::<u8>(32, || (0, vec![0xff]), || true);
        assert!(k.is_none() && tries == 1024, "{tries}");
    }

    proptest! {
        #[test]
        fn admission_is_monotone_in_difficulty(id in proptest::collection::vec(any::<u8>(), 0..64), d in 0u8..=32) {
            prop_assert!(admitted(&id, 0));
            let w = work(&id);
            prop_assert_eq!(admitted(&id, d), w >= u32::from(d));
            if admitted(&id, d) && d > 0 {
                prop_assert!(admitted(&id, d - 1));
            }
        }
    }
}
