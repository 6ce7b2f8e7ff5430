//! Proofs of possession: how a node checks that a peer holds a shard's bytes
//! now, instead of taking its word (`Has`, a `Stored` ack).
//!
//! The challenger picks a fresh random 32-byte nonce and asks the holder for
//! `BLAKE3-keyed(nonce, id || bytes)` over the *whole* shard. Without the bytes
//! no answer better than a guess (2^-256) exists, and a fresh nonce means no
//! earlier answer can be replayed. The challenger checks the answer against its
//! own copy: repair scans are run by holders, and a backup proves each copy
//! while it still has the sealed bytes in hand.
//!
//! ## A holder that fetches the shard when challenged
//!
//! A peer that keeps nothing could, when challenged, fetch the shard from an
//! honest holder and answer correctly. Three things make that not count:
//!
//! 1. **Deadline.** An answer must arrive within [`deadline`]: a small fixed
//!    allowance for the round trip plus the batch's bytes at
//!    [`MIN_PROOF_RATE`] (a disk read and one BLAKE3 pass run at 1-3 GB/s; a
//!    volunteer's uplink at 1-100 MB/s). A relay must move the whole batch over
//!    the network first: with batches of [`MAX_PROVE_BYTES`] at 64 MiB, a relay
//!    slower than about 40 MB/s misses the deadline. On loopback (measured in
//!    `shardnet bench`) a relay is fast enough, so the deadline alone is not the
//!    guarantee; it only makes relaying costly on real links.
//! 2. **Quarantine is not served.** A copy is never deleted on proofs: it moves
//!    to quarantine, where its bytes are kept but no longer served to anyone.
//!    A relaying liar that leaned on that copy fails its next proof, and the
//!    quarantined copy goes back to healthy.
//! 3. **Proofs must hold for a grace period.** A quarantined copy is purged
//!    only after the responsible holders kept passing proofs for the whole
//!    grace period (default 24 h), each proof fresh, each holder vetted and not
//!    isolated ([`crate::purge`]). A relay that works while the honest copies
//!    exist stops working the moment the last of them is quarantined.
//!
//! So a relay can at worst make this node keep an extra copy in quarantine for
//! the grace period; it can never make the last honest copy go away.

use crate::id::ShardId;
use std::time::Duration;

/// Most shards one `Prove` request may name.
pub const MAX_PROVE_IDS: usize = 64;
/// Most shard bytes one `Prove` request should make a holder read; the
/// challenger splits its batches to stay under it.
pub const MAX_PROVE_BYTES: u64 = 64 << 20;
/// Rate at which an honest holder must be able to read and hash its shards
/// for the deadline (bytes per second).
pub const MIN_PROOF_RATE: u64 = 40 << 20;
/// Fixed allowance of the deadline: round trip, queueing, a cold disk seek.
pub const PROOF_BASE_DEADLINE: Duration = Duration::from_secs(2);

/// A challenge nonce.
pub type Nonce = [u8; 32];
/// An answer to a challenge.
pub type Answer = [u8; 32];

/// The answer to `nonce` for shard `id` with contents `bytes`.
pub fn answer(nonce: &Nonce, id: &ShardId, bytes: &[u8]) -> Answer {
    let mut h = blake3::Hasher::new_keyed(nonce);
    h.update(&id.0);
    h.update(bytes);
    *h.finalize().as_bytes()
}

/// Whether `got` answers `nonce` for `id`, given the challenger's own copy.
/// Constant-time comparison (through `blake3::Hash`).
pub fn check(nonce: &Nonce, id: &ShardId, bytes: &[u8], got: &Answer) -> bool {
    blake3::Hash::from_bytes(answer(nonce, id, bytes)) == blake3::Hash::from_bytes(*got)
}

/// How long a holder may take to answer a challenge over `bytes` bytes.
pub fn deadline(bytes: u64) -> Duration {
    PROOF_BASE_DEADLINE + Duration::from_secs_f64(bytes as f64 / MIN_PROOF_RATE as f64)
}

/// Splits `(id, size)` pairs into batches of at most [`MAX_PROVE_IDS`] ids and
/// [`MAX_PROVE_BYTES`] bytes (a single larger shard gets a batch of its own).
pub fn batches(items: &[(ShardId, u64)]) -> Vec<Vec<(ShardId, u64)>> {
    let mut out: Vec<Vec<(ShardId, u64)>> = Vec::new();
    let mut cur: Vec<(ShardId, u64)> = Vec::new();
    let mut bytes = 0u64;
    for &(id, size) in items {
        if !cur.is_empty() && (cur.len() == MAX_PROVE_IDS || bytes + size > MAX_PROVE_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        cur.push((id, size));
        bytes += size;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn answer_depends_on_nonce_id_and_every_byte() {
        let bytes = vec![7u8; 4096];
        let id = ShardId::of(&bytes);
        let a = answer(&[1; 32], &id, &bytes);
        assert!(check(&[1; 32], &id, &bytes, &a));
        assert!(!check(&[2; 32], &id, &bytes, &a), "fresh nonce, new answer");
        let mut flipped = bytes.clone();
        flipped[4000] ^= 1;
        assert_ne!(answer(&[1; 32], &id, &flipped), a);
        assert_ne!(answer(&[1; 32], &ShardId([0; 32]), &bytes), a);
    }

    #[test]
    fn deadline_grows_with_bytes() {
        assert_eq!(deadline(0), PROOF_BASE_DEADLINE);
        assert!(deadline(MAX_PROVE_BYTES) > deadline(1 << 20));
        assert!(deadline(MAX_PROVE_BYTES) < Duration::from_secs(5));
    }

    proptest! {
        #[test]
        fn batches_cover_everything_within_limits(sizes in proptest::collection::vec(0u64..(80 << 20), 0..300)) {
            let items: Vec<(ShardId, u64)> = sizes.iter().enumerate()
                .map(|(i, s)| (ShardId::of(&(i as u64).to_le_bytes()), *s)).collect();
            let b = batches(&items);
            let flat: Vec<(ShardId, u64)> = b.iter().flatten().copied().collect();
            prop_assert_eq!(flat, items);
            for batch in &b {
                prop_assert!(!batch.is_empty() && batch.len() <= MAX_PROVE_IDS);
                let total: u64 = batch.iter().map(|x| x.1).sum();
                prop_assert!(batch.len() == 1 || total <= MAX_PROVE_BYTES);
            }
        }
    }
}
