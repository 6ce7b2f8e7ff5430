use super::*;
use proptest::prelude::*;

#[test]
fn parses_and_prints_both_kinds() {
    for s in ["replicate 3", "rs 4+3", "rs 10+20"] {
        assert_eq!(s.parse::<Scheme>().unwrap().to_string(), s);
    }
    for bad in [
        "",
        "rs",
        "rs 4",
        "rs 4+",
        "rs 0+3",
        "rs 4+0",
        "replicate 0",
        "rs 30+3",
        "mirror 2",
        "rs 4+3 x",
        "replicate -1",
    ] {
        assert!(bad.parse::<Scheme>().is_err(), "{bad:?}");
    }
}

#[test]
fn the_tiers_match_with_far_fewer_stored_bytes() {
    // bronze 2, silver 3, gold 5, critical 7 copies, with 4 data pieces.
    let got: Vec<String> = [2, 3, 5, 7]
        .iter()
        .map(|&n| matching(n, 4, P_REF).to_string())
        .collect();
    assert_eq!(got, ["rs 4+3", "rs 4+4", "rs 4+8", "rs 4+12"]);
    for n in [2, 3, 5, 7] {
        let rs = matching(n, 4, P_REF);
        assert!(rs.overhead() < n as f64 / 1.1, "{rs} against {n} copies");
    }
    // More data pieces, fewer stored bytes: silver at 8+4 is 1.5x.
    assert_eq!(matching(3, 8, P_REF).to_string(), "rs 8+4");
}

#[test]
fn a_rebuild_gathers_k_pieces_once_for_all_missing_ones() {
    let rs = Scheme::Rs { data: 4, parity: 3 };
    let mib = 1 << 20;
    assert_eq!(rs.piece_size(4 * mib), mib);
    // Holding one piece: 3 gathered + 2 sent.
    assert_eq!(rs.rebuild_bytes(4 * mib, 2, true), 5 * mib);
    assert_eq!(rs.rebuild_bytes(4 * mib, 1, false), 5 * mib);
    assert_eq!(rs.rebuild_bytes(4 * mib, 0, true), 0);
    let rep = Scheme::Replicate { copies: 3 };
    assert_eq!(rep.rebuild_bytes(4 * mib, 2, true), 8 * mib);
}

#[test]
fn replication_floors_are_the_patience_floors() {
    for n in 1..=7u8 {
        let s = Scheme::Replicate { copies: n };
        assert_eq!(s.floor(), patience::floor(n as usize));
        assert_eq!(s.needed(), 1);
        assert!((s.loss(0.1) - 0.1f64.powi(n as i32)).abs() < 1e-12);
    }
    assert_eq!(Scheme::Rs { data: 4, parity: 3 }.floor(), 6);
    assert_eq!(Scheme::Rs { data: 4, parity: 5 }.floor(), 7);
}

fn silent(mins: u64, held: bool) -> Silent {
    let m = |n: u64| Duration::from_secs(60 * n);
    Silent {
        silent: m(mins),
        wait: Wait {
            base: m(30),
            patience: m(60),
            ceiling: m(48 * 60),
        },
        held,
    }
}

#[test]
fn reed_solomon_rebuilds_every_missing_piece_once_below_its_threshold() {
    let rs = Scheme::Rs { data: 4, parity: 4 };
    assert_eq!(rs.floor(), 6);
    // Two holders gone for a week, one out for 10 minutes: 5 live and
    // one still within its patience reach the floor. Nothing is rebuilt.
    let v = rs.verdict(
        5,
        &[
            silent(7 * 1440, true),
            silent(7 * 1440, true),
            silent(10, true),
        ],
    );
    assert_eq!(
        v,
        Verdict {
            kept: vec![true; 3],
            rebuild: false
        }
    );
    // An hour and a half later it is past its patience: all three at once.
    let v = rs.verdict(
        5,
        &[
            silent(7 * 1440, true),
            silent(7 * 1440, true),
            silent(90, true),
        ],
    );
    assert_eq!(
        v,
        Verdict {
            kept: vec![false; 3],
            rebuild: true
        }
    );
    // A silent peer that never held a piece is not a piece to wait for.
    assert!(rs.verdict(5, &[silent(1, false)]).rebuild);
    // Replication decides each place on its own.
    let rep = Scheme::Replicate { copies: 3 };
    let v = rep.verdict(
        2,
        &[silent(7 * 1440, true), silent(10, true), silent(40, false)],
    );
    assert_eq!(
        v,
        Verdict {
            kept: vec![false, true, false],
            rebuild: true
        }
    );
}

proptest! {
    #[test]
    fn reed_solomon_verdicts_are_all_or_nothing_at_the_threshold(
        data in 2u8..10,
        parity in 1u8..10,
        live in 0usize..20,
        mins in proptest::collection::vec((0u64..5000, any::<bool>()), 0..10),
    ) {
        let rs = Scheme::Rs { data, parity };
        let s: Vec<Silent> = mins.iter().map(|&(m, h)| silent(m, h)).collect();
        let v = rs.verdict(live, &s);
        prop_assert_eq!(v.kept.len(), s.len());
        prop_assert!(v.kept.iter().all(|&k| k != v.rebuild));
        // At or above the floor on live pieces alone: never a rebuild.
        if live >= rs.floor() {
            prop_assert!(!v.rebuild);
        }
        // Below it with nobody to wait for: always.
        if live < rs.floor() && s.iter().all(|x| !x.held) {
            prop_assert!(v.rebuild);
        }
    }

    #[test]
    fn replication_verdicts_are_the_patience_rule(
        copies in 1u8..8,
        live in 0usize..8,
        mins in proptest::collection::vec((0u64..5000, any::<bool>()), 0..8),
    ) {
        let rep = Scheme::Replicate { copies };
        let s: Vec<Silent> = mins.iter().map(|&(m, h)| silent(m, h)).collect();
        let v = rep.verdict(live, &s);
        prop_assert!(v.rebuild);
        for (x, k) in s.iter().zip(&v.kept) {
            let want = patience::keeps_place(x.silent, x.wait, x.held, live, copies as usize);
            prop_assert_eq!(*k, want);
        }
    }

    #[test]
    fn matching_is_as_durable_at_the_floor_as_copies_at_theirs(
        copies in 1usize..8,
        data in 1usize..12,
        p_exp in 0.0f64..6.0,
    ) {
        let p = P_REF / 10f64.powf(p_exp);
        let s = matching(copies, data, P_REF);
        let at_floor = |s: Scheme| match s {
            Scheme::Replicate { .. } => Scheme::Replicate { copies: s.floor() as u8 },
            Scheme::Rs { data, .. } => Scheme::Rs { data, parity: (s.floor() - data as usize) as u8 },
        };
        let rep = Scheme::Replicate { copies: copies as u8 };
        prop_assert!(at_floor(s).loss(p) <= at_floor(rep).loss(p) * (1.0 + 1e-9), "{s} at {p}");
    }

    #[test]
    fn matching_is_never_less_durable_up_to_p_ref(
        copies in 1usize..8,
        data in 1usize..12,
        p_exp in 0.0f64..6.0,
    ) {
        let p = P_REF / 10f64.powf(p_exp);
        let s = matching(copies, data, P_REF);
        let rep = Scheme::Replicate { copies: copies as u8 };
        prop_assert!(s.loss(p) <= rep.loss(p) * (1.0 + 1e-9), "{s} at {p}");
        prop_assert!(s.pieces() <= MAX_PIECES);
        // Never more stored bytes than replication.
        prop_assert!(s.overhead() <= copies as f64 + 1e-9);
    }

    #[test]
    fn pieces_cover_the_shard_and_floors_sit_between_needed_and_pieces(
        data in 1u8..16,
        parity in 1u8..16,
        size in 0u64..(1 << 40),
    ) {
        let s = Scheme::Rs { data, parity };
        prop_assert!(s.piece_size(size) * data as u64 >= size);
        prop_assert!(s.piece_size(size) * (data as u64) < size + data as u64);
        prop_assert!(s.floor() > s.needed() && s.floor() <= s.pieces());
        prop_assert!(s.loss(0.01) <= 1.0 && s.loss(0.01) >= 0.0);
    }
}
