use super::*;
use proptest::prelude::*;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; len];
    blake3::Hasher::new_keyed(&[seed; 32])
        .finalize_xof()
        .fill(&mut v);
    v
}

fn rs(data: u8, parity: u8) -> Scheme {
    Scheme::Rs { data, parity }
}

/// Every subset of `0..n` with `k` members.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..1 << n)
        .filter(|s| s.count_ones() as usize == k)
        .map(|s| (0..n).filter(|i| s & (1 << i) != 0).collect())
        .collect()
}

#[test]
fn any_k_of_the_pieces_give_the_shard_back() {
    for (k, m, len) in [(4, 3, 1 << 20), (2, 2, 70_001), (3, 2, 5), (1, 2, 1000)] {
        let shard = bytes(len, k);
        let pieces = encode(rs(k, m), &shard).unwrap();
        assert_eq!(pieces.len(), (k + m) as usize);
        for (i, p) in pieces.iter().enumerate() {
            assert_eq!(p.header().index as usize, i);
            assert_eq!(p.header().shard, ShardId::of(&shard));
            assert_eq!(p.body().len(), body_len(k, len));
        }
        for pick in subsets((k + m) as usize, k as usize) {
            let some: Vec<Piece> = pick.iter().map(|&i| pieces[i].clone()).collect();
            assert_eq!(decode(&some).unwrap(), shard, "{k}+{m}, pieces {pick:?}");
        }
    }
}

#[test]
fn no_piece_holds_more_than_its_share_of_the_shard() {
    let shard = bytes(1 << 20, 9);
    let pieces = encode(rs(4, 3), &shard).unwrap();
    let stored: usize = pieces.iter().map(|p| p.bytes().len()).sum();
    // (k+m)/k of the shard, plus a header per piece.
    assert_eq!(stored, 7 * ((1 << 20) / 4) + 7 * PIECE_HEADER_LEN);
    for p in &pieces {
        assert!(p.body().len() <= shard.len() / 4 + 2);
    }
}

#[test]
fn a_rebuilt_piece_is_the_lost_one_byte_for_byte() {
    let shard = bytes(300_001, 4);
    let pieces = encode(rs(4, 3), &shard).unwrap();
    // Pieces 0, 2 and 5 lost; any four of the rest rebuild them.
    let left: Vec<Piece> = [1, 3, 4, 6].iter().map(|&i| pieces[i].clone()).collect();
    let again = rebuild(&left, &[0, 2, 5]).unwrap();
    for (p, i) in again.iter().zip([0, 2, 5]) {
        assert_eq!(p.id(), pieces[i].id());
        assert_eq!(p, &pieces[i]);
    }
    assert_eq!(rebuild(&left, &[7]), Err(StripeError::Index(7)));
    // The same shard always gives the same pieces.
    let twice = encode(rs(4, 3), &shard).unwrap();
    assert_eq!(twice, pieces);
}

#[test]
fn a_corrupt_piece_is_an_error_never_a_wrong_shard() {
    let shard = bytes(200_000, 5);
    let pieces = encode(rs(3, 2), &shard).unwrap();
    for victim in 0..5 {
        let mut bytes = pieces[victim].bytes().to_vec();
        let at = PIECE_HEADER_LEN + bytes.len() / 3;
        bytes[at] ^= 0x40;
        let bad = Piece::parse(bytes).unwrap();
        // Three pieces with the bad one among them.
        let mut some = vec![bad];
        some.extend(
            (0..5)
                .filter(|&i| i != victim)
                .take(2)
                .map(|i| pieces[i].clone()),
        );
        assert_eq!(
            decode(&some),
            Err(StripeError::Mismatch(ShardId::of(&shard))),
            "piece {victim} corrupt"
        );
    }
}

#[test]
fn pieces_of_other_shards_too_few_or_no_pieces_are_errors() {
    let a = encode(rs(2, 2), &bytes(10_000, 1)).unwrap();
    let b = encode(rs(2, 2), &bytes(10_000, 2)).unwrap();
    assert_eq!(
        decode(&[a[0].clone(), b[1].clone()]),
        Err(StripeError::Mixed)
    );
    // The same piece twice is one piece.
    assert!(matches!(
        decode(&[a[3].clone(), a[3].clone()]),
        Err(StripeError::TooFew {
            have: 1,
            need: 2,
            ..
        })
    ));
    assert!(matches!(decode(&[]), Err(StripeError::TooFew { .. })));
    assert_eq!(
        encode(Scheme::Replicate { copies: 3 }, &[1, 2, 3]),
        Err(StripeError::NotErasure(Scheme::Replicate { copies: 3 }))
    );
    assert_eq!(encode(rs(2, 2), &[]), Err(StripeError::ShardLen(0)));
}

#[test]
fn bytes_that_are_not_a_piece_are_refused_with_a_reason() {
    let p = encode(rs(2, 1), &bytes(1000, 3)).unwrap().remove(0);
    let good = p.bytes().to_vec();
    let with = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        Piece::parse(b)
    };
    assert_eq!(Piece::parse(good.clone()).unwrap(), p);
    assert!(matches!(
        Piece::parse(good[..10].to_vec()),
        Err(StripeError::Header(_))
    ));
    assert!(matches!(with(0, b'X'), Err(StripeError::Header(_))));
    assert!(matches!(with(4, 9), Err(StripeError::Header(_))));
    assert!(matches!(with(5, 0), Err(StripeError::Header(_))));
    assert!(matches!(with(7, 3), Err(StripeError::Header(_))));
    assert!(matches!(
        Piece::parse(good[..good.len() - 1].to_vec()),
        Err(StripeError::BodyLen { .. })
    ));
    // A shard length the body does not match.
    assert!(matches!(with(9, 1), Err(StripeError::BodyLen { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_k_pieces_decode_and_rebuild_the_rest(
        len in 1usize..20_000,
        k in 1u8..=8,
        m in 1u8..=8,
        seed in any::<u8>(),
        order in any::<u64>(),
    ) {
        let shard = bytes(len, seed);
        let pieces = encode(rs(k, m), &shard).unwrap();
        let n = (k + m) as usize;
        // A pseudo-random choice of k pieces, in a scrambled order.
        let mut idx: Vec<usize> = (0..n).collect();
        let mut x = order;
        for i in (1..n).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            idx.swap(i, (x >> 33) as usize % (i + 1));
        }
        let (kept, lost) = idx.split_at(k as usize);
        let some: Vec<Piece> = kept.iter().map(|&i| pieces[i].clone()).collect();
        prop_assert_eq!(decode(&some).unwrap(), shard);
        let again = rebuild(&some, lost).unwrap();
        for (p, &i) in again.iter().zip(lost) {
            prop_assert_eq!(p.id(), pieces[i].id());
        }
    }

    #[test]
    fn parsing_any_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut b = PIECE_MAGIC.to_vec();
        b.push(PIECE_VERSION);
        b.extend_from_slice(&data);
        if let Ok(p) = Piece::parse(b) {
            prop_assert_eq!(p.bytes().len(), PIECE_HEADER_LEN + p.header().body_len());
        }
    }
}
