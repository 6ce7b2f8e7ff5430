//! The stripe record a holder keeps with a piece, so that the holders of a
//! stripe can rebuild a lost sibling while the owner is offline.
//!
//! A holder of one piece knows its stripe's shard and scheme from the
//! piece's header, but not its siblings' ids (hashes of bytes it never
//! saw), and it cannot sign a lease for a piece it rebuilds. The owner gives
//! it both, signed: the stripe (shard, scheme, piece ids) and, for each
//! piece, the one-copy lease signature a receiver of that piece checks as
//! it checks any lease. The record's own signature binds the ids and the
//! lease signatures together, so a peer that relays a record can neither
//! swap in pieces of another stripe nor change a lease.
//!
//! A rebuild is still checked by bytes, never by the record alone: the
//! gathered pieces must hash to the record's ids, decode to a shard that
//! hashes to the stripe's shard id, and each rebuilt piece to its id.

use super::{check_sig, check_term, lease_bytes, sig, Lease, LeaseError, Sig, Terms};
use crate::id::ShardId;
use crate::keys::OwnerId;
use crate::manifest::StripeRef;
use serde::{Deserialize, Serialize};

const STRIPE_CONTEXT: &[u8] = b"shardnet stripe v1\0";

/// An owner's signed record of one stripe: its pieces, and each piece's
/// one-copy lease until `expires_at` (by index, as `stripe.pieces`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeRecord {
    pub owner: OwnerId,
    pub stripe: StripeRef,
    pub expires_at: u64,
    pub leases: Vec<Sig>,
    pub sig: Sig,
}

impl Terms {
    /// The signed record of `stripe`: every piece's one-copy lease until
    /// these terms' expiry (the terms' copy count is not used: a piece is
    /// one copy).
    pub fn stripe_record(&self, stripe: &StripeRef) -> StripeRecord {
        let leases: Vec<Sig> = stripe
            .pieces
            .iter()
            .map(|p| {
                sig(self
                    .signer
                    .sign(&lease_bytes(p, &self.owner, self.expires_at, 1)))
            })
            .collect();
        let msg = record_bytes(&self.owner, stripe, self.expires_at, &leases);
        StripeRecord {
            owner: self.owner,
            stripe: stripe.clone(),
            expires_at: self.expires_at,
            leases,
            sig: sig(self.signer.sign(&msg)),
        }
    }
}

fn record_bytes(owner: &OwnerId, s: &StripeRef, expires_at: u64, leases: &[Sig]) -> Vec<u8> {
    let mut m = Vec::with_capacity(STRIPE_CONTEXT.len() + 80 + s.pieces.len() * 96);
    m.extend_from_slice(STRIPE_CONTEXT);
    m.extend_from_slice(&owner.0);
    m.extend_from_slice(&s.shard.0);
    m.extend_from_slice(&[s.data, s.parity]);
    m.extend_from_slice(&expires_at.to_be_bytes());
    for (p, l) in s.pieces.iter().zip(leases) {
        m.extend_from_slice(&p.0);
        m.extend_from_slice(&l.0);
    }
    m
}

impl StripeRecord {
    /// Checks the record as the holder of piece `held` must before keeping
    /// it at `now`: a stripe within bounds, one lease per piece, `held`
    /// among the pieces, live and not too long, and signed by its owner.
    /// Returns `held`'s index. (The other pieces' leases are checked by
    /// whoever receives those pieces, as any lease is.)
    pub fn verify(&self, held: &ShardId, now: u64) -> Result<usize, LeaseError> {
        let bad = |why: &str| LeaseError::BadStripe(why.to_string());
        self.stripe
            .check()
            .map_err(|_| bad("its scheme or its piece count is out of bounds"))?;
        if self.leases.len() != self.stripe.pieces.len() {
            return Err(bad("it has not one lease per piece"));
        }
        let index = self
            .stripe
            .pieces
            .iter()
            .position(|p| p == held)
            .ok_or_else(|| bad("it does not list this piece"))?;
        check_term(self.expires_at, now)?;
        check_sig(
            &self.owner,
            &record_bytes(&self.owner, &self.stripe, self.expires_at, &self.leases),
            &self.sig,
        )?;
        Ok(index)
    }

    /// The owner's one-copy lease of piece `index`, as signed in the record
    /// (`Lease::verify` checks it for that piece's id).
    pub fn lease(&self, index: usize) -> Option<Lease> {
        self.leases.get(index).map(|sig| Lease {
            owner: self.owner,
            expires_at: self.expires_at,
            copies: 1,
            sig: *sig,
        })
    }

    /// Where `id` is in the stripe.
    pub fn index_of(&self, id: &ShardId) -> Option<usize> {
        self.stripe.pieces.iter().position(|p| p == id)
    }
}
