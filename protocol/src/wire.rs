//! Messages of the shard protocol (`/shardnet/shard/1`) and their framing: a
//! 4-byte big-endian length, then a bincode body. Readers check the length
//! against [`MAX_FRAME_LEN`] before allocating, and decode with the same limit.
//! (libp2p's cbor/json codecs cap messages at 1 MiB and bloat byte vectors:
//! shards up to 8 MiB need their own codec.) Byte fields go through
//! `serde_bytes`: serde would otherwise encode a `Vec<u8>` one element at a
//! time, which measured slower than the network.

use crate::catalogue::{SignedCatalogue, MAX_CATALOGUE_LEN};
use crate::codec::{self, CodecError};
use crate::digest;
use crate::envelope::MAX_SHARD_LEN;
use crate::gossip::SignedHeartbeat;
use crate::id::ShardId;
use crate::lease::{Avoid, Lease, Release};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Protocol name of shard transfer. Version 2 adds [`Request::StoreProve`]
/// and [`Response::StoredProof`]; everything else is as in version 1.
pub const SHARD_PROTOCOL: &str = "/shardnet/shard/2";
/// Version 1, still spoken: a node of an earlier build negotiates it, and
/// gets a [`Request::Store`] where a newer node would get
/// [`Request::StoreProve`] (see [`Request::downgraded`]).
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

    /// The request as a peer speaking only version 1 of the protocol
    /// understands it: a [`Request::StoreProve`] becomes a plain
    /// [`Request::Store`] (its answer is then `Stored`, and the sender
    /// proves receipt with a separate `Prove`).
    pub fn downgraded(self) -> Request {
        match self {
            Request::StoreProve {
                id,
                leases,
                bytes,
                avoid,
                ..
            } => Request::Store {
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

/// Encodes a message body (without the length prefix).
pub fn encode<T: Serialize>(what: &'static str, msg: &T) -> Result<Vec<u8>, CodecError> {
    codec::encode::<_, MAX_FRAME_LEN>(what, msg)
}

/// Decodes a message body.
pub fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, CodecError> {
    let v: T = codec::decode::<_, MAX_FRAME_LEN>(what, body)?;
    Ok(v)
}

/// Variant index of [`Request::StoreProve`] in the encoding
/// (`store_prove_variant_is_fourteenth` checks it).
const STORE_PROVE_VARIANT: u32 = 13;

/// A request's frame body in two parts: written one after the other they
/// are what [`encode`] gives, but the second is a `StoreProve`'s shard
/// bytes themselves (shared, not copied into the frame).
pub fn encode_request_parts(req: &Request) -> Result<(Vec<u8>, Option<Bytes>), CodecError> {
    let Request::StoreProve {
        id,
        leases,
        avoid,
        nonce,
        bytes,
    } = req
    else {
        return Ok((encode("request", req)?, None));
    };
    let head = Request::StoreProve {
        id: *id,
        leases: leases.clone(),
        avoid: avoid.clone(),
        nonce: *nonce,
        bytes: Bytes::new(),
    };
    let head = encode("request", &head)?;
    Ok((
        with_length(head, "request", bytes.len())?,
        Some(bytes.clone()),
    ))
}

/// A response's frame body in two parts, as [`encode_request_parts`]: a
/// `Shard`'s bytes are written from where they lie, not copied into the
/// frame.
pub fn encode_response_parts(res: &Response) -> Result<(Vec<u8>, Option<&[u8]>), CodecError> {
    let Response::Shard(bytes) = res else {
        return Ok((encode("response", res)?, None));
    };
    let head = encode("response", &Response::Shard(Vec::new()))?;
    Ok((with_length(head, "response", bytes.len())?, Some(bytes)))
}

/// The encoding of a message whose last field is empty bytes, made the
/// head of the same message with `len` bytes there: the empty bytes'
/// length prefix (a single zero) ends it, and the real length takes its
/// place.
fn with_length(mut head: Vec<u8>, what: &'static str, len: usize) -> Result<Vec<u8>, CodecError> {
    if head.pop() != Some(0) {
        return Err(CodecError::Encode {
            what,
            reason: "unexpected encoding of an empty byte string".into(),
        });
    }
    let prefix = bincode::encode_to_vec(len as u64, bincode::config::standard()).map_err(|e| {
        CodecError::Encode {
            what,
            reason: e.to_string(),
        }
    })?;
    head.extend_from_slice(&prefix);
    if head.len() + len > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge {
            what,
            len: head.len() + len,
            max: MAX_FRAME_LEN,
        });
    }
    Ok(head)
}

/// A `StoreProve` as it lies in a frame, its bytes borrowed from it.
#[derive(Deserialize)]
struct StoreProveRef<'a> {
    id: ShardId,
    leases: Vec<Lease>,
    avoid: Option<Avoid>,
    nonce: [u8; 32],
    #[serde(borrow)]
    bytes: &'a [u8],
}

/// Decodes a request frame body as [`decode`] does, with the same limits;
/// a `StoreProve`'s shard bytes stay where they are in `body` (no copy).
pub fn decode_request(body: Vec<u8>) -> Result<Request, CodecError> {
    let malformed = |e: bincode::error::DecodeError| CodecError::Malformed {
        what: "request",
        reason: e.to_string(),
    };
    if body.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge {
            what: "request",
            len: body.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let cfg = bincode::config::standard().with_limit::<MAX_FRAME_LEN>();
    let (variant, at): (u32, usize) = bincode::decode_from_slice(&body, cfg).map_err(malformed)?;
    if variant != STORE_PROVE_VARIANT {
        return decode("request", &body);
    }
    let (r, used): (StoreProveRef, usize) =
        bincode::serde::borrow_decode_from_slice(&body[at..], cfg).map_err(malformed)?;
    if at + used != body.len() {
        return Err(CodecError::Trailing {
            what: "request",
            extra: body.len() - at - used,
        });
    }
    // Where the bytes lie in the frame: they are a subslice of it.
    let start = r.bytes.as_ptr() as usize - body.as_ptr() as usize;
    let end = start + r.bytes.len();
    let (id, leases, avoid, nonce) = (r.id, r.leases, r.avoid, r.nonce);
    Ok(Request::StoreProve {
        id,
        leases,
        avoid: avoid.map(Box::new),
        nonce,
        bytes: Bytes::from(body).slice(start..end),
    })
}

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
mod tests {
    use super::*;
    use crate::keys::OwnerId;
    use proptest::prelude::*;

    #[test]
    fn member_answers_are_bounded() {
        let key = libp2p_identity::Keypair::generate_ed25519();
        let hb = crate::gossip::Heartbeat {
            zone: "z".into(),
            capacity: 1,
            used: 0,
            version: "1".into(),
            addrs: vec!["a".repeat(256); 8],
            draining: false,
            radius: Some([1; 32]),
        };
        let rec = SignedHeartbeat::sign(&key, hb, 7);
        assert!(check_members(&[]));
        assert!(!check_members(&vec![rec.clone(); MAX_MEMBERS + 1]));
        // Answerers stop at half a frame (plus the record that crossed it):
        // the largest answer of the largest records still fits one.
        let each = encode("record", &rec).unwrap().len();
        let r = Response::Members(vec![rec; MAX_FRAME_LEN / 2 / each + 1]);
        let back: Response = decode("response", &encode("response", &r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn digest_messages_are_bounded() {
        assert!(check_digest(&[[0; 32]; digest::BUCKETS]));
        assert!(!check_digest(&[[0; 32]; digest::BUCKETS - 1]));
        assert!(!check_records(&vec![0; digest::MAX_WANTED + 1]));
        // The largest answer fits a frame.
        let most = vec![
            digest::Summary {
                prefix: u64::MAX,
                issued_at: u64::MAX
            };
            digest::MAX_SUMMARIES
        ];
        assert!(check_summaries(&most));
        let r = Response::Summaries(most);
        assert!(encode("response", &r).unwrap().len() < MAX_FRAME_LEN);
    }

    #[test]
    fn round_trip() {
        let msgs = vec![
            Request::Store {
                id: ShardId([1; 32]),
                leases: vec![lease()],
                bytes: vec![9; 1000],
                avoid: None,
            },
            Request::Fetch {
                id: ShardId([4; 32]),
            },
            Request::Has {
                ids: vec![ShardId([5; 32]); 3],
            },
            Request::Prove {
                nonce: [6; 32],
                ids: vec![ShardId([7; 32]); 2],
            },
            Request::StoreProve {
                id: ShardId([1; 32]),
                leases: vec![],
                bytes: Bytes::from(vec![7; 100]),
                avoid: None,
                nonce: [3; 32],
            },
            Request::Hello,
            Request::Members,
            Request::Digest {
                buckets: vec![[3; 32]; crate::digest::BUCKETS],
            },
            Request::Records {
                prefixes: vec![1, 2, u64::MAX],
            },
        ];
        for m in msgs {
            let b = encode("request", &m).unwrap();
            assert_eq!(decode::<Request>("request", &b).unwrap(), m);
            assert_eq!(decode_request(b).unwrap(), m);
        }
        for r in [
            Response::Rejected(Reject::Internal("disk".into())),
            Response::StoredProof([4; 32]),
        ] {
            assert_eq!(
                decode::<Response>("response", &encode("response", &r).unwrap()).unwrap(),
                r
            );
        }
    }

    /// Version 2 only adds variants: every version-1 message keeps its
    /// encoding, and a store for a version-1 peer is a plain store.
    #[test]
    fn version_one_messages_keep_their_encoding() {
        let store = Request::Store {
            id: ShardId([1; 32]),
            leases: vec![],
            bytes: vec![9; 10],
            avoid: None,
        };
        // Variant 0, then the id: the encoding version 1 used.
        let b = encode("request", &store).unwrap();
        assert_eq!(b[0], 0);
        assert_eq!(&b[1..33], &[1; 32]);
        let prove = Request::StoreProve {
            id: ShardId([1; 32]),
            leases: vec![],
            bytes: Bytes::from(vec![9; 10]),
            avoid: None,
            nonce: [5; 32],
        };
        assert_eq!(prove.shard_bytes(), Some(&[9u8; 10][..]));
        assert_eq!(prove.kind(), "store");
        assert_eq!(prove.downgraded(), store);
        assert_eq!(Request::Hello.downgraded(), Request::Hello);
        assert_eq!(Request::Hello.shard_bytes(), None);
    }

    fn lease() -> Lease {
        Lease {
            owner: OwnerId([2; 32]),
            expires_at: 3,
            copies: 3,
            sig: crate::lease::Sig([8; 64]),
        }
    }

    fn store_prove(len: usize) -> Request {
        Request::StoreProve {
            id: ShardId([1; 32]),
            leases: vec![lease()],
            avoid: None,
            nonce: [5; 32],
            bytes: Bytes::from((0..len).map(|i| i as u8).collect::<Vec<u8>>()),
        }
    }

    #[test]
    fn store_prove_variant_is_fourteenth() {
        let b = encode("request", &store_prove(0)).unwrap();
        let (v, _): (u32, usize) =
            bincode::decode_from_slice(&b, bincode::config::standard()).unwrap();
        assert_eq!(v, STORE_PROVE_VARIANT);
    }

    /// The two parts are the plain encoding, for every size of length
    /// prefix; the decoder without a copy gives back the same message, and
    /// its bytes lie inside the frame it was given.
    #[test]
    fn frames_in_parts_are_the_plain_encoding() {
        for len in [0, 1, 250, 251, 65_535, 65_536, 1 << 20, MAX_SHARD_LEN] {
            let m = store_prove(len);
            let (head, tail) = encode_request_parts(&m).unwrap();
            let mut whole = head.clone();
            whole.extend_from_slice(&tail.unwrap());
            assert_eq!(whole, encode("request", &m).unwrap(), "len {len}");
            let at = whole.as_ptr() as usize;
            let back = decode_request(whole).unwrap();
            assert_eq!(back, m);
            if let (Request::StoreProve { bytes, .. }, true) = (&back, len > 0) {
                assert_eq!(bytes.as_ptr() as usize, at + head.len(), "no copy");
            }
        }
        let (_, none) = encode_request_parts(&Request::Hello).unwrap();
        assert!(none.is_none());
        for len in [0, 1, 251, 65_536, MAX_SHARD_LEN] {
            let r = Response::Shard((0..len).map(|i| (i * 7) as u8).collect());
            let (head, tail) = encode_response_parts(&r).unwrap();
            let whole = [head, tail.unwrap().to_vec()].concat();
            assert_eq!(whole, encode("response", &r).unwrap(), "len {len}");
            assert_eq!(decode::<Response>("response", &whole).unwrap(), r);
        }
        let (_, none) = encode_response_parts(&Response::Stored).unwrap();
        assert!(none.is_none());
        let too_big = Response::Shard(vec![0; MAX_FRAME_LEN]);
        assert!(matches!(
            encode_response_parts(&too_big),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn frames_in_parts_keep_the_limits() {
        let too_big = store_prove(MAX_FRAME_LEN);
        assert!(matches!(
            encode_request_parts(&too_big),
            Err(CodecError::TooLarge { .. })
        ));
        let mut b = encode("request", &store_prove(10)).unwrap();
        b.push(0);
        assert!(matches!(
            decode_request(b.clone()),
            Err(CodecError::Trailing { extra: 1, .. })
        ));
        b.truncate(b.len() - 3);
        assert!(matches!(
            decode_request(b),
            Err(CodecError::Malformed { .. })
        ));
        assert!(decode_request(vec![]).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<Request>("request", &data);
            let _ = decode_request(data.clone());
            let _ = decode::<Response>("response", &data);
        }

        /// Valid messages with bytes flipped, cut or grown: reaches deeper
        /// into the decoder than random bytes (lengths, variants, nesting).
        #[test]
        fn mutated_messages_never_panic(
            which in 0usize..5,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            grow in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let lease = Lease { owner: OwnerId([2; 32]), expires_at: 3, copies: 3, sig: crate::lease::Sig([8; 64]) };
            let msg = match which {
                4 => store_prove(100),
                0 => Request::Store { id: ShardId([1; 32]), leases: vec![lease; 2], bytes: vec![9; 100], avoid: None },
                1 => Request::Renew { id: ShardId([1; 32]), lease },
                2 => Request::Has { ids: vec![ShardId([5; 32]); 3] },
                _ => Request::Sample { id: ShardId([1; 32]), offsets: vec![0, 1024, 4096] },
            };
            let mut b = encode("request", &msg).unwrap();
            for (i, v) in &flips {
                let at = i.index(b.len());
                b[at] ^= v | 1;
            }
            let _ = decode::<Request>("request", &b);
            let _ = decode_request(b.clone());
            b.truncate(cut.index(b.len() + 1));
            let _ = decode::<Request>("request", &b);
            let _ = decode_request(b.clone());
            b.extend_from_slice(&grow);
            let _ = decode::<Request>("request", &b);
            let _ = decode_request(b.clone());
        }
    }
}
