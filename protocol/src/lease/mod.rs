//! Leases: a stored shard stays as long as some owner's lease on it is live.
//! Pruning of expired and orphaned shards is decided from leases alone.
//!
//! Every lease is signed by its owner (the owner id *is* the owner's ed25519
//! public key) over the shard id, the expiry and the copy count, so a holder
//! checks it without trusting whoever delivered it: a peer can neither charge
//! a shard to another owner's quota, nor ask for more copies or a longer
//! life than the owner did, nor replay one shard's lease on another. The
//! complementary-separation list that keeps a backup's root off the peers
//! holding its other shards ([`Avoid`]) is signed the same way.

use crate::id::ShardId;
use crate::keys::{MasterKey, OwnerId};
use crate::tier::{Tier, DAY_SECS};
use libp2p_identity::ed25519;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Most copies a lease may ask for: the highest tier's.
pub const MAX_COPIES: u8 = 7;
/// Longest a lease may run past the moment a holder receives it: the longest
/// tier plus a year of slack for clocks and early renewals.
pub const MAX_TERM_SECS: u64 = (7 * 365 + 366) * DAY_SECS;
/// Most placement keys one avoid list may name.
pub const MAX_AVOID: usize = 16;
/// Most owners' leases one shard keeps (and one `Store` may carry).
pub const MAX_LEASES: usize = 16;

const LEASE_CONTEXT: &[u8] = b"shardnet lease v1\0";
const AVOID_CONTEXT: &[u8] = b"shardnet avoid v1\0";
const RELEASE_CONTEXT: &[u8] = b"shardnet release v1\0";
/// Longest a release stays valid after it is signed: a holder refuses one
/// signed for later, or replayed after that (see [`Release`]).
pub const RELEASE_VALID_SECS: u64 = DAY_SECS;

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sig(pub [u8; 64]);

/// An owner's signed claim on one shard until `expires_at` (unix seconds),
/// and how many copies the owner's tier wants kept (repair restores that
/// count). Only [`Lease::verify`] makes it worth anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: OwnerId,
    pub expires_at: u64,
    pub copies: u8,
    pub sig: Sig,
}

/// Placement keys of peers that must never hold a shard, as its owner decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avoid {
    pub owner: OwnerId,
    pub keys: Vec<[u8; 32]>,
    pub sig: Sig,
}

/// An owner's signed release of its lease on one shard (`backup delete`):
/// the holder drops the owner's lease if it ends at or before `upto`. Valid
/// until `valid_until` only, so a peer that saw it cannot replay it months
/// later to drop the lease of a new backup of the same content; `upto` lets
/// the owner release whatever lease it signed, renewals included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub owner: OwnerId,
    pub upto: u64,
    pub valid_until: u64,
    pub sig: Sig,
}

/// Why a lease or an avoid list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("the owner's signature does not verify")]
    BadSignature,
    #[error("asks for {0} copies (at most {MAX_COPIES})")]
    Copies(u8),
    #[error("runs until {expires_at}, more than {MAX_TERM_SECS} s after {now}")]
    TooLong { expires_at: u64, now: u64 },
    #[error("expired at {expires_at} (now {now})")]
    Expired { expires_at: u64, now: u64 },
    #[error("names {0} peers to avoid (at most {MAX_AVOID})")]
    AvoidTooLong(usize),
    #[error("no lease of the avoid list's owner")]
    AvoidOwner,
    #[error("bad stripe record: {0}")]
    BadStripe(String),
    #[error("release valid until {valid_until}, now {now} (stale, or signed too far ahead)")]
    ReleaseWindow { valid_until: u64, now: u64 },
}

/// What an owner grants every shard of one backup; signs one lease per shard.
#[derive(Clone)]
pub struct Terms {
    signer: ed25519::Keypair,
    owner: OwnerId,
    pub expires_at: u64,
    pub copies: u8,
}

impl Terms {
    pub fn new(master: &MasterKey, expires_at: u64, copies: u8) -> Self {
        let signer = master.signing_key();
        Terms {
            owner: OwnerId(signer.public().to_bytes()),
            signer,
            expires_at,
            copies,
        }
    }

    /// The terms of `tier` for a backup made at `now`.
    pub fn for_tier(master: &MasterKey, tier: Tier, now: u64) -> Self {
        Terms::new(master, tier.expires_at(now), tier.copies() as u8)
    }

    pub fn owner(&self) -> OwnerId {
        self.owner
    }

    /// The signed lease of `shard` under these terms.
    pub fn lease(&self, shard: &ShardId) -> Lease {
        let msg = lease_bytes(shard, &self.owner, self.expires_at, self.copies);
        Lease {
            owner: self.owner,
            expires_at: self.expires_at,
            copies: self.copies,
            sig: sig(self.signer.sign(&msg)),
        }
    }

    /// The signed avoid list of `shard` (at most [`MAX_AVOID`] keys are kept).
    pub fn avoid(&self, shard: &ShardId, keys: &[[u8; 32]]) -> Avoid {
        let keys: Vec<[u8; 32]> = keys.iter().take(MAX_AVOID).copied().collect();
        let msg = avoid_bytes(shard, &self.owner, &keys);
        Avoid {
            owner: self.owner,
            keys,
            sig: sig(self.signer.sign(&msg)),
        }
    }
}

impl Terms {
    /// The signed release of every lease of this owner on `shard` that ends
    /// by `self.expires_at`, valid for [`RELEASE_VALID_SECS`] from `now`.
    pub fn release(&self, shard: &ShardId, now: u64) -> Release {
        let valid_until = now.saturating_add(RELEASE_VALID_SECS);
        let msg = release_bytes(shard, &self.owner, self.expires_at, valid_until);
        Release {
            owner: self.owner,
            upto: self.expires_at,
            valid_until,
            sig: sig(self.signer.sign(&msg)),
        }
    }
}

fn release_bytes(shard: &ShardId, owner: &OwnerId, upto: u64, valid_until: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(RELEASE_CONTEXT.len() + 80);
    m.extend_from_slice(RELEASE_CONTEXT);
    m.extend_from_slice(&shard.0);
    m.extend_from_slice(&owner.0);
    m.extend_from_slice(&upto.to_be_bytes());
    m.extend_from_slice(&valid_until.to_be_bytes());
    m
}

impl Release {
    /// Checks the release as a holder receiving it at `now`: signed by its
    /// owner for this shard, and within its validity window.
    pub fn verify(&self, shard: &ShardId, now: u64) -> Result<(), LeaseError> {
        if now > self.valid_until || self.valid_until > now.saturating_add(2 * RELEASE_VALID_SECS) {
            return Err(LeaseError::ReleaseWindow {
                valid_until: self.valid_until,
                now,
            });
        }
        check_sig(
            &self.owner,
            &release_bytes(shard, &self.owner, self.upto, self.valid_until),
            &self.sig,
        )
    }

    /// Drops the owner's lease from `leases` if it ends by `upto` (the
    /// caller has verified the release). Returns whether one was dropped.
    pub fn apply(&self, leases: &mut Vec<Lease>) -> bool {
        let before = leases.len();
        leases.retain(|l| l.owner != self.owner || l.expires_at > self.upto);
        leases.len() != before
    }
}

fn sig(bytes: Vec<u8>) -> Sig {
    let mut s = [0u8; 64];
    s.copy_from_slice(&bytes[..64]);
    Sig(s)
}

fn lease_bytes(shard: &ShardId, owner: &OwnerId, expires_at: u64, copies: u8) -> Vec<u8> {
    let mut m = Vec::with_capacity(LEASE_CONTEXT.len() + 73);
    m.extend_from_slice(LEASE_CONTEXT);
    m.extend_from_slice(&shard.0);
    m.extend_from_slice(&owner.0);
    m.extend_from_slice(&expires_at.to_be_bytes());
    m.push(copies);
    m
}

fn avoid_bytes(shard: &ShardId, owner: &OwnerId, keys: &[[u8; 32]]) -> Vec<u8> {
    let mut m = Vec::with_capacity(AVOID_CONTEXT.len() + 64 + 32 * keys.len());
    m.extend_from_slice(AVOID_CONTEXT);
    m.extend_from_slice(&shard.0);
    m.extend_from_slice(&owner.0);
    for k in keys {
        m.extend_from_slice(k);
    }
    m
}

fn check_sig(owner: &OwnerId, msg: &[u8], s: &Sig) -> Result<(), LeaseError> {
    let pk = ed25519::PublicKey::try_from_bytes(&owner.0).map_err(|_| LeaseError::BadSignature)?;
    if pk.verify(msg, &s.0) {
        Ok(())
    } else {
        Err(LeaseError::BadSignature)
    }
}

/// A term a holder accepts at `now`: live, and no longer than
/// [`MAX_TERM_SECS`].
fn check_term(expires_at: u64, now: u64) -> Result<(), LeaseError> {
    if expires_at <= now {
        return Err(LeaseError::Expired { expires_at, now });
    }
    if expires_at > now.saturating_add(MAX_TERM_SECS) {
        return Err(LeaseError::TooLong { expires_at, now });
    }
    Ok(())
}

impl Lease {
    /// Checks the lease as a holder receiving it at `now` must: signed by its
    /// owner for this shard, live, no longer than [`MAX_TERM_SECS`], and 1 to
    /// [`MAX_COPIES`] copies.
    pub fn verify(&self, shard: &ShardId, now: u64) -> Result<(), LeaseError> {
        if self.copies == 0 || self.copies > MAX_COPIES {
            return Err(LeaseError::Copies(self.copies));
        }
        check_term(self.expires_at, now)?;
        check_sig(
            &self.owner,
            &lease_bytes(shard, &self.owner, self.expires_at, self.copies),
            &self.sig,
        )
    }
}

impl Avoid {
    /// Checks the list is signed by `owner`'s key for this shard and bounded.
    pub fn verify(&self, shard: &ShardId) -> Result<(), LeaseError> {
        if self.keys.len() > MAX_AVOID {
            return Err(LeaseError::AvoidTooLong(self.keys.len()));
        }
        check_sig(
            &self.owner,
            &avoid_bytes(shard, &self.owner, &self.keys),
            &self.sig,
        )
    }
}

/// The leases among `leases` a holder may keep for `shard` at `now`, at most
/// one per owner (the longest) and at most [`MAX_LEASES`], and the first
/// error seen (for the refusal when none is left).
pub fn verified(shard: &ShardId, leases: &[Lease], now: u64) -> (Vec<Lease>, Option<LeaseError>) {
    let mut ok: Vec<Lease> = Vec::new();
    let mut err = None;
    for l in leases.iter().take(MAX_LEASES) {
        match l.verify(shard, now) {
            Ok(()) => {
                merge(&mut ok, *l);
            }
            Err(e) => {
                err.get_or_insert(e);
            }
        }
    }
    (ok, err)
}

/// Adds `new` to `leases`, one lease per owner: a lease that runs longer (or
/// as long, with more copies) replaces the owner's older one; signatures cover
/// whole leases, so two are never combined. A new owner beyond [`MAX_LEASES`]
/// is not added. Returns whether anything changed.
pub fn merge(leases: &mut Vec<Lease>, new: Lease) -> bool {
    let full = leases.len() >= MAX_LEASES;
    match leases.iter_mut().find(|l| l.owner == new.owner) {
        Some(l) if (l.expires_at, l.copies) >= (new.expires_at, new.copies) => false,
        Some(l) => {
            *l = new;
            true
        }
        None if full => false,
        None => {
            leases.push(new);
            true
        }
    }
}

/// Copies wanted for a shard: the most any unexpired lease asks for (at least 1
/// while any lease exists, so a shard is never dropped by repair arithmetic),
/// never more than [`MAX_COPIES`].
pub fn copies_wanted(leases: &[Lease], now: u64) -> usize {
    let live = leases
        .iter()
        .filter(|l| l.expires_at > now)
        .map(|l| l.copies as usize)
        .max();
    live.or_else(|| leases.iter().map(|l| l.copies as usize).max())
        .unwrap_or(1)
        .clamp(1, MAX_COPIES as usize)
}

/// The latest expiry among `leases`, or `None` when there are none (an orphan).
pub fn latest_expiry(leases: &[Lease]) -> Option<u64> {
    leases.iter().map(|l| l.expires_at).max()
}

impl Serialize for Sig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Sig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = if d.is_human_readable() {
            hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)?
        } else {
            serde_bytes::ByteBuf::deserialize(d)?.into_vec()
        };
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a signature is 64 bytes"))?;
        Ok(Sig(arr))
    }
}

impl fmt::Debug for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({}..)", hex::encode(&self.0[..4]))
    }
}

mod stripe;
pub use stripe::StripeRecord;

#[cfg(test)]
mod tests;
