use super::frame::STORE_PROVE_VARIANT;
use super::*;
use crate::codec::CodecError;
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
    assert_eq!(prove.clone().for_version(1), store);
    assert_eq!(prove.clone().for_version(2), prove);
    assert_eq!(Request::Hello.for_version(1), Request::Hello);
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
    let (v, _): (u32, usize) = bincode::decode_from_slice(&b, bincode::config::standard()).unwrap();
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

/// A stripe record reaches a version-2 peer as the renewal of the piece's
/// lease it carries, and a version-3 peer as it is.
#[test]
fn a_stripe_record_is_a_renewal_to_older_peers() {
    use rand::SeedableRng;
    let master = crate::MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(1));
    let stripe = crate::manifest::StripeRef {
        shard: ShardId([9; 32]),
        data: 2,
        parity: 1,
        pieces: vec![ShardId([1; 32]), ShardId([2; 32]), ShardId([3; 32])],
    };
    let record = Box::new(crate::Terms::new(&master, 1_900_000_000, 3).stripe_record(&stripe));
    let req = Request::Stripe {
        id: ShardId([2; 32]),
        record: record.clone(),
    };
    assert_eq!(req.kind(), "stripe");
    assert_eq!(req.clone().for_version(3), req);
    let Request::Renew { id, lease } = req.clone().for_version(2) else {
        panic!("not a renewal");
    };
    assert_eq!(id, ShardId([2; 32]));
    assert_eq!(lease.copies, 1);
    lease.verify(&id, 1_800_000_000).unwrap();
    assert_eq!(req.clone().for_version(1), req.for_version(2));
    let stranger = Request::Stripe {
        id: ShardId([7; 32]),
        record,
    };
    assert_eq!(
        stranger.for_version(2),
        Request::Has {
            ids: vec![ShardId([7; 32])]
        }
    );
}
