use super::*;
use proptest::prelude::*;
use rand::SeedableRng;

fn master(seed: u64) -> MasterKey {
    MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

const NOW: u64 = 1_800_000_000;

#[test]
fn a_signed_lease_verifies_for_its_shard_only() {
    let t = Terms::for_tier(&master(1), Tier::Gold, NOW);
    let a = ShardId([1; 32]);
    let l = t.lease(&a);
    assert_eq!(l.owner, master(1).owner_id());
    l.verify(&a, NOW).unwrap();
    assert_eq!(
        l.verify(&ShardId([2; 32]), NOW),
        Err(LeaseError::BadSignature)
    );
}

#[test]
fn tampered_or_forged_leases_are_refused() {
    let t = Terms::for_tier(&master(1), Tier::Silver, NOW);
    let a = ShardId([1; 32]);
    let l = t.lease(&a);
    let more = Lease { copies: 7, ..l };
    assert_eq!(more.verify(&a, NOW), Err(LeaseError::BadSignature));
    let longer = Lease {
        expires_at: l.expires_at + 1,
        ..l
    };
    assert_eq!(longer.verify(&a, NOW), Err(LeaseError::BadSignature));
    // Another owner's id on my signature: charged to the victim, refused.
    let victim = Lease {
        owner: master(2).owner_id(),
        ..l
    };
    assert_eq!(victim.verify(&a, NOW), Err(LeaseError::BadSignature));
    // Garbage owner bytes that are no curve point.
    let junk = Lease {
        owner: OwnerId([0xff; 32]),
        ..l
    };
    assert!(junk.verify(&a, NOW).is_err());
}

#[test]
fn the_owner_cannot_sign_away_the_bounds() {
    let m = master(3);
    let a = ShardId([1; 32]);
    let lots = Terms::new(&m, NOW + 10, 255).lease(&a);
    assert_eq!(lots.verify(&a, NOW), Err(LeaseError::Copies(255)));
    let zero = Terms::new(&m, NOW + 10, 0).lease(&a);
    assert_eq!(zero.verify(&a, NOW), Err(LeaseError::Copies(0)));
    let forever = Terms::new(&m, u64::MAX, 3).lease(&a);
    assert!(matches!(
        forever.verify(&a, NOW),
        Err(LeaseError::TooLong { .. })
    ));
    let gone = Terms::new(&m, NOW, 3).lease(&a);
    assert!(matches!(
        gone.verify(&a, NOW),
        Err(LeaseError::Expired { .. })
    ));
    // The longest tier is within the bound.
    Terms::for_tier(&m, Tier::Critical, NOW)
        .lease(&a)
        .verify(&a, NOW)
        .unwrap();
}

#[test]
fn avoid_lists_are_signed_and_bounded() {
    let t = Terms::for_tier(&master(4), Tier::Silver, NOW);
    let a = ShardId([1; 32]);
    let av = t.avoid(&a, &[[1; 32], [2; 32]]);
    av.verify(&a).unwrap();
    assert!(av.verify(&ShardId([9; 32])).is_err());
    let mut more = av.clone();
    more.keys.push([3; 32]);
    assert_eq!(more.verify(&a), Err(LeaseError::BadSignature));
    assert_eq!(t.avoid(&a, &[[0; 32]; 40]).keys.len(), MAX_AVOID);
}

#[test]
fn verified_keeps_the_good_ones_and_says_why_not() {
    let a = ShardId([1; 32]);
    let good = Terms::for_tier(&master(5), Tier::Bronze, NOW).lease(&a);
    let bad = Lease {
        copies: 3,
        ..Terms::for_tier(&master(6), Tier::Bronze, NOW).lease(&a)
    };
    let (ok, err) = verified(&a, &[bad, good], NOW);
    assert_eq!(ok, vec![good]);
    assert_eq!(err, Some(LeaseError::BadSignature));
}

#[test]
fn a_release_drops_only_its_owners_lease_within_its_window() {
    let a = ShardId([1; 32]);
    let m = master(8);
    let gold = Terms::for_tier(&m, Tier::Gold, NOW);
    let other = Terms::for_tier(&master(9), Tier::Gold, NOW).lease(&a);
    let mut leases = vec![gold.lease(&a), other];
    let r = gold.release(&a, NOW);
    r.verify(&a, NOW).unwrap();
    assert_eq!(
        r.verify(&ShardId([2; 32]), NOW),
        Err(LeaseError::BadSignature)
    );
    // Replayed after its window, or signed for far ahead: refused.
    assert!(matches!(
        r.verify(&a, NOW + RELEASE_VALID_SECS + 1),
        Err(LeaseError::ReleaseWindow { .. })
    ));
    let ahead = gold.release(&a, NOW + 3 * RELEASE_VALID_SECS);
    assert!(ahead.verify(&a, NOW).is_err());
    let mut forged = r;
    forged.upto += 1;
    assert_eq!(forged.verify(&a, NOW), Err(LeaseError::BadSignature));
    // A bronze release does not drop a longer (later) gold lease...
    let bronze = Terms::for_tier(&m, Tier::Bronze, NOW).release(&a, NOW);
    assert!(!bronze.apply(&mut leases));
    // ...the gold one does, and leaves the other owner's.
    assert!(r.apply(&mut leases));
    assert_eq!(leases, vec![other]);
}

#[test]
fn serde_round_trips_in_both_forms() {
    let l = Terms::for_tier(&master(7), Tier::Gold, NOW).lease(&ShardId([1; 32]));
    let b = crate::codec::encode::<_, 1024>("lease", &l).unwrap();
    assert_eq!(crate::codec::decode::<Lease, 1024>("lease", &b).unwrap(), l);
    let j = serde_json::to_string(&l).unwrap();
    assert_eq!(serde_json::from_str::<Lease>(&j).unwrap(), l);
}

fn fake(owner: u8, expires_at: u64, copies: u8) -> Lease {
    Lease {
        owner: OwnerId([owner; 32]),
        expires_at,
        copies,
        sig: Sig([0; 64]),
    }
}

proptest! {
    #[test]
    fn merge_keeps_one_per_owner_the_longest(ops in proptest::collection::vec((0u8..4, 0u64..1000, 1u8..8), 0..40)) {
        let mut leases = Vec::new();
        for (o, e, c) in &ops {
            merge(&mut leases, fake(*o, *e, *c));
        }
        for o in 0u8..4 {
            let want = ops.iter().filter(|(x, _, _)| *x == o).map(|(_, e, c)| (*e, *c)).max();
            let got: Vec<_> = leases.iter().filter(|l| l.owner == OwnerId([o; 32])).collect();
            prop_assert!(got.len() <= 1);
            prop_assert_eq!(got.first().map(|l| (l.expires_at, l.copies)), want);
        }
    }

    #[test]
    fn merge_never_holds_more_than_max_leases(owners in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut leases = Vec::new();
        for o in owners {
            merge(&mut leases, fake(o, 1, 1));
        }
        prop_assert!(leases.len() <= MAX_LEASES);
    }

    #[test]
    fn copies_wanted_is_bounded(ls in proptest::collection::vec((0u8..4, 0u64..10, any::<u8>()), 0..10), now in 0u64..10) {
        let leases: Vec<Lease> = ls.iter().map(|(o, e, c)| fake(*o, *e, *c)).collect();
        let w = copies_wanted(&leases, now);
        prop_assert!((1..=MAX_COPIES as usize).contains(&w));
    }
}

fn stripe(n: u8) -> crate::manifest::StripeRef {
    crate::manifest::StripeRef {
        shard: ShardId([9; 32]),
        data: 2,
        parity: n - 2,
        pieces: (0..n).map(|i| ShardId([i + 10; 32])).collect(),
    }
}

#[test]
fn a_stripe_record_gives_each_piece_a_lease_that_verifies_for_it_only() {
    let t = Terms::for_tier(&master(1), Tier::Gold, NOW);
    let s = stripe(4);
    let r = t.stripe_record(&s);
    for (i, p) in s.pieces.iter().enumerate() {
        assert_eq!(r.verify(p, NOW), Ok(i));
        assert_eq!(r.index_of(p), Some(i));
        let l = r.lease(i).unwrap();
        assert_eq!(l.copies, 1);
        l.verify(p, NOW).unwrap();
        let other = &s.pieces[(i + 1) % s.pieces.len()];
        assert_eq!(l.verify(other, NOW), Err(LeaseError::BadSignature));
    }
    assert!(r.lease(4).is_none());
    // A piece the record does not list.
    assert!(matches!(
        r.verify(&ShardId([1; 32]), NOW),
        Err(LeaseError::BadStripe(_))
    ));
    // Expired, or run past the bound.
    assert!(matches!(
        r.verify(&s.pieces[0], r.expires_at),
        Err(LeaseError::Expired { .. })
    ));
    let far = Terms::new(&master(1), NOW + MAX_TERM_SECS + 10, 1).stripe_record(&s);
    assert!(matches!(
        far.verify(&s.pieces[0], NOW),
        Err(LeaseError::TooLong { .. })
    ));
}

#[test]
fn a_relayed_stripe_record_cannot_be_changed() {
    let t = Terms::for_tier(&master(1), Tier::Silver, NOW);
    let s = stripe(5);
    let r = t.stripe_record(&s);
    let held = s.pieces[0];
    let tampered = [
        // Another piece swapped in.
        {
            let mut x = r.clone();
            x.stripe.pieces[3] = ShardId([1; 32]);
            x
        },
        // Two leases swapped.
        {
            let mut x = r.clone();
            x.leases.swap(1, 2);
            x
        },
        // Another scheme, shard, expiry or owner.
        {
            let mut x = r.clone();
            x.stripe.data = 3;
            x.stripe.parity = 2;
            x
        },
        {
            let mut x = r.clone();
            x.stripe.shard = ShardId([2; 32]);
            x
        },
        {
            let mut x = r.clone();
            x.expires_at += 1;
            x
        },
        {
            let mut x = r.clone();
            x.owner = master(2).owner_id();
            x
        },
    ];
    for x in tampered {
        assert_eq!(x.verify(&held, NOW), Err(LeaseError::BadSignature));
    }
    // Out of bounds before any signature is checked.
    let mut short = r.clone();
    short.leases.pop();
    assert!(matches!(
        short.verify(&held, NOW),
        Err(LeaseError::BadStripe(_))
    ));
    let mut huge = r.clone();
    huge.stripe.parity = 40;
    assert!(matches!(
        huge.verify(&held, NOW),
        Err(LeaseError::BadStripe(_))
    ));
    // Another owner's record of the same stripe is that owner's.
    let theirs = Terms::for_tier(&master(2), Tier::Silver, NOW).stripe_record(&s);
    assert_eq!(theirs.verify(&held, NOW), Ok(0));
    assert_ne!(theirs.owner, r.owner);
}

/// What a holder keeps and a renewal carries per piece: about 96 bytes
/// per piece of the stripe, about 3.2 KB for the widest scheme, well
/// inside a frame and a metadata record.
#[test]
fn a_stripe_record_is_small_next_to_its_piece() {
    let t = Terms::for_tier(&master(1), Tier::Gold, NOW);
    for (k, m) in [(2u8, 2u8), (4, 3), (4, 12), (16, 16)] {
        let n = (k + m) as usize;
        let s = crate::manifest::StripeRef {
            shard: ShardId([9; 32]),
            data: k,
            parity: m,
            pieces: (0..n).map(|i| ShardId([i as u8; 32])).collect(),
        };
        let len = crate::codec::encode::<_, { crate::meta::MAX_META_LEN }>(
            "record",
            &t.stripe_record(&s),
        )
        .unwrap()
        .len();
        eprintln!("rs {k}+{m}: {len} bytes");
        assert!(len <= 192 + 96 * n, "rs {k}+{m}: {len} bytes");
    }
}
