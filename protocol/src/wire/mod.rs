//! Messages of the shard protocol (`/shardnet/shard/2`, and `/1` for older
//! peers) and their framing: a 4-byte big-endian length, then a bincode body.
//! Readers check the length against [`MAX_FRAME_LEN`] before allocating, and
//! decode with the same limit (`frame` holds the encoders and decoders).
//! (libp2p's cbor/json codecs cap messages at 1 MiB and bloat byte vectors:
//! shards up to 8 MiB need their own codec.) Byte fields go through
//! `serde_bytes`: serde would otherwise encode a `Vec<u8>` one element at a
//! time, which measured slower than the network.

use crate::catalogue::{SignedCatalogue, MAX_CATALOGUE_LEN};
use crate::digest;
use crate::envelope::MAX_SHARD_LEN;
use crate::gossip::SignedHeartbeat;
use crate::id::ShardId;
use crate::lease::{Avoid, Lease, Release, StripeRecord};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Protocol name of shard transfer. Version 3 adds [`Request::Stripe`];
/// version 2 adds [`Request::StoreProve`] and [`Response::StoredProof`];
/// everything else is as in version 1.
pub const SHARD_PROTOCOL: &str = "/shardnet/shard/3";
/// Version 2, still spoken: a node of an earlier build negotiates it, and
/// gets a [`Request::Renew`] where a newer node would get a
/// [`Request::Stripe`] (see [`Request::for_version`]).
pub const SHARD_PROTOCOL_V2: &str = "/shardnet/shard/2";
/// Version 1, still spoken: a node of an earlier build negotiates it, and
/// gets a [`Request::Store`] where a newer node would get
/// [`Request::StoreProve`].
pub const SHARD_PROTOCOL_V1: &str = "/shardnet/shard/1";
/// Largest frame either side accepts: a maximal shard or catalogue plus headers.
pub const MAX_FRAME_LEN: usize = max(MAX_SHARD_LEN, MAX_CATALOGUE_LEN) + (64 << 10);
/// Most ids one `Has` request may ask about.
pub const MAX_HAS_IDS: usize = 4096;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Keep `bytes` (which must hash to `id`) under the owners' signed
    /// `leases` (at most `lease::MAX_LEASES`; the holder keeps those that
    /// verify); `avoid`, signed by one of those owners, lists placement keys
    /// of peers that must never hold it (separation).
    Store {
        id: ShardId,
        leases: Vec<Lease>,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        avoid: Option<Avoid>,
    },
    /// Extend the owner's signed `lease` on a shard the peer should already hold.
    Renew { id: ShardId, lease: Lease },
    /// Send the shard's bytes.
    Fetch { id: ShardId },
    /// Which of these shards are held, healthy?
    Has { ids: Vec<ShardId> },
    /// Keep this catalogue if it is validly signed and newer.
    PutCatalogue(SignedCatalogue),
    /// Send the newest catalogue of this owner public key.
    GetCatalogue { owner: [u8; 32] },
    /// Prove possession: for each id, `proof::answer(nonce, id, bytes)` over
    /// the healthy copy held (at most `proof::MAX_PROVE_IDS` ids).
    Prove { nonce: [u8; 32], ids: Vec<ShardId> },
    /// Prove possession of chunks of one shard to a verifier without a copy:
    /// the Bao slice of the 1 KiB chunk at each offset (`sample`; at most
    /// `sample::MAX_SAMPLES` offsets).
    Sample { id: ShardId, offsets: Vec<u64> },
    /// Drop the owner's lease on a shard, as its signed `release` says
    /// (`backup delete`; the copy stays until prune finds it unleased), and
    /// put `replacement` (the same owner's, shorter or smaller: `retention
    /// tier`) in its place at once.
    Release {
        id: ShardId,
        release: Box<Release>,
        replacement: Option<Box<Lease>>,
    },
    /// Send your own signed heartbeat: a direct liveness probe of a ring
    /// neighbour, a suspect or a stranger that connected.
    Hello,
    /// Send the signed heartbeats of the peers you know live (at most
    /// [`MAX_MEMBERS`]): a joiner's one pull of the member list. Each record
    /// is checked against its member's own signature and its age.
    Members,
    /// Here is a hash per key-prefix bucket of the member records I hold
    /// (`digest::Digest`, [`digest::BUCKETS`] of them): summarise yours in
    /// the buckets that differ (`digest::answer`).
    Digest { buckets: Vec<[u8; 32]> },
    /// Send the signed records of these members, by key prefix (at most
    /// [`digest::MAX_WANTED`]): the pull after a digest.
    Records { prefixes: Vec<u64> },
    /// [`Request::Store`], and prove receipt in the answer: once the copy
    /// is durable, answer [`Response::StoredProof`] with
    /// `proof::answer(nonce, id, bytes)` over the bytes received. It saves
    /// the separate `Prove` round and the holder's read of the copy it has
    /// just written. (Protocol version 2.)
    StoreProve {
        id: ShardId,
        leases: Vec<Lease>,
        /// Boxed: it is rare, and it would make every request larger.
        avoid: Option<Box<Avoid>>,
        nonce: [u8; 32],
        /// Last, so that a frame is written from the shard's own buffer
        /// ([`encode_request_parts`]) and read into the buffer that becomes
        /// the shard ([`decode_request`]); shared, not copied, among the
        /// copies of one shard.
        bytes: Bytes,
    },
    /// Keep the owner's signed stripe record with piece `id` (held here),
    /// and the piece's lease in it (a [`Request::Renew`] as well): what
    /// lets the holders of a stripe rebuild a lost piece while the owner is
    /// offline. Answered `Renewed`, or `NotFound` when the piece is not
    /// held. (Protocol version 3.)
    Stripe {
        id: ShardId,
        record: Box<StripeRecord>,
    },
}

impl Request {
    /// The shard bytes the request carries (a store).
    pub fn shard_bytes(&self) -> Option<&[u8]> {
        match self {
            Request::Store { bytes, .. } => Some(bytes),
            Request::StoreProve { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// The request as a peer speaking `version` of the protocol
    /// understands it: below 3, a [`Request::Stripe`] is the plain
    /// [`Request::Renew`] of the piece's lease in the record (the record is
    /// not kept there); below 2, a [`Request::StoreProve`] becomes a plain
    /// [`Request::Store`] (its answer is then `Stored`, and the sender
    /// proves receipt with a separate `Prove`).
    pub fn for_version(self, version: u8) -> Request {
        match self {
            Request::Stripe { id, record } if version < 3 => {
                match record.index_of(&id).and_then(|i| record.lease(i)) {
                    Some(lease) => Request::Renew { id, lease },
                    // A record that does not list the piece: only a
                    // question with an answer of no consequence is left.
                    None => Request::Has { ids: vec![id] },
                }
            }
            Request::StoreProve {
                id,
                leases,
                bytes,
                avoid,
                ..
            } if version < 2 => Request::Store {
                id,
                leases,
                bytes: bytes.to_vec(),
                avoid: avoid.map(|a| *a),
            },
            other => other,
        }
    }

    /// The request's name, for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Store { .. } | Request::StoreProve { .. } => "store",
            Request::Renew { .. } => "renew",
            Request::Stripe { .. } => "stripe",
            Request::Fetch { .. } => "fetch",
            Request::Has { .. } => "has",
            Request::PutCatalogue(_) => "put_catalogue",
            Request::GetCatalogue { .. } => "get_catalogue",
            Request::Prove { .. } => "prove",
            Request::Sample { .. } => "sample",
            Request::Release { .. } => "release",
            Request::Hello => "hello",
            Request::Members => "members",
            Request::Digest { .. } => "digest",
            Request::Records { .. } => "records",
        }
    }
}

/// Most records one `Members` answer may carry.
pub const MAX_MEMBERS: usize = 4096;

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reject {
    /// The bytes do not hash to the id.
    IdMismatch,
    /// No room within the node's capacity.
    Full,
    /// This owner's quota on the node is used up.
    OverQuota,
    /// The node is draining and takes no new shards.
    Draining,
    /// The catalogue's signature is invalid.
    BadSignature,
    /// The catalogue is older than the one held.
    Stale,
    /// The node failed to carry it out (disk error...).
    Internal(String),
    /// Too many proofs are being computed; ask again later (not evidence).
    Busy,
    /// No lease verified: not signed by its owner for this shard, expired,
    /// too long or too many copies (the reason says which).
    BadLease(String),
    /// This node is not among the holders of that catalogue slot.
    NotResponsible,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Stored,
    Renewed,
    Rejected(Reject),
    Shard(#[serde(with = "serde_bytes")] Vec<u8>),
    NotFound,
    Has(Vec<bool>),
    Catalogue(Option<SignedCatalogue>),
    CatalogueStored,
    /// One answer per id asked, in order; `None`: not held healthy.
    Proofs(Vec<Option<[u8; 32]>>),
    /// One Bao slice per offset asked, in order.
    Samples(Vec<serde_bytes::ByteBuf>),
    /// The owner's lease was dropped (`true`), or there was none to drop.
    Released(bool),
    /// The answerer's own signed heartbeat (to `Hello`).
    Hello(SignedHeartbeat),
    /// Records of the peers the answerer knows live (to `Members`).
    Members(Vec<SignedHeartbeat>),
    /// The answerer's members in the buckets where the asker's digest
    /// differs (to `Digest`; at most [`digest::MAX_SUMMARIES`]).
    Summaries(Vec<digest::Summary>),
    /// Stored durably, and the proof of receipt asked for
    /// (to [`Request::StoreProve`]).
    StoredProof([u8; 32]),
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::IdMismatch => f.write_str("bytes do not match the shard id"),
            Reject::Full => f.write_str("peer is full"),
            Reject::OverQuota => f.write_str("owner's quota on the peer is used up"),
            Reject::Draining => f.write_str("peer is draining"),
            Reject::BadSignature => f.write_str("catalogue signature is invalid"),
            Reject::Stale => f.write_str("catalogue is older than the one held"),
            Reject::Internal(e) => write!(f, "peer failed: {e}"),
            Reject::Busy => f.write_str("peer is busy, try later"),
            Reject::BadLease(why) => write!(f, "lease refused: {why}"),
            Reject::NotResponsible => f.write_str("peer does not hold that catalogue slot"),
        }
    }
}

mod frame;
pub use frame::{decode, decode_request, encode, encode_request_parts, encode_response_parts};

/// Checks a `Prove` request's size.
pub fn check_prove(ids: &[ShardId]) -> bool {
    !ids.is_empty() && ids.len() <= crate::proof::MAX_PROVE_IDS
}

/// Checks a `Sample` request's size.
pub fn check_sample(offsets: &[u64]) -> bool {
    !offsets.is_empty() && offsets.len() <= crate::sample::MAX_SAMPLES
}

/// Checks a `Members` answer's count; each record is verified on its own.
pub fn check_members(records: &[SignedHeartbeat]) -> bool {
    records.len() <= MAX_MEMBERS
}

/// Checks a `Digest` request's shape: one hash per bucket.
pub fn check_digest(buckets: &[[u8; 32]]) -> bool {
    buckets.len() == digest::BUCKETS
}

/// Checks a `Summaries` answer's count.
pub fn check_summaries(s: &[digest::Summary]) -> bool {
    s.len() <= digest::MAX_SUMMARIES
}

/// Checks a `Records` request's count.
pub fn check_records(prefixes: &[u64]) -> bool {
    prefixes.len() <= digest::MAX_WANTED
}

/// Checks a `Has` request's size.
pub fn check_has(ids: &[ShardId]) -> bool {
    ids.len() <= MAX_HAS_IDS
}

#[cfg(test)]
mod tests;
