use super::*;

#[test]
fn pruning_drops_the_oldest_eighth() {
    let mut c = HashMap::new();
    let peer = PeerId::random();
    for i in 0..800u64 {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&i.to_le_bytes());
        c.insert(
            (peer, ShardId(id)),
            ProofState {
                last_checked: i,
                ..ProofState::default()
            },
        );
    }
    prune_oldest(&mut c);
    assert!(c.len() <= 700 && c.len() >= 690, "{}", c.len());
    assert!(c.values().all(|s| s.last_checked >= 100));
}

/// Audits over a fresh store and view (the store lives as long as the dir).
fn fixture() -> (tempfile::TempDir, Arc<View>, Audits) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let view = Arc::new(View::new(
        PeerId::random(),
        Duration::from_secs(1),
        Duration::from_secs(3),
    ));
    let audits = Audits::load(
        store,
        view.clone(),
        Policy::default(),
        Duration::from_secs(3600),
    );
    (dir, view, audits)
}

/// The bound the module promises for an evasive peer: always `Busy`,
/// it is isolated after exactly 30 audit rounds (10 timed-out audits),
/// and its copies are unproven throughout.
#[test]
fn always_busy_is_isolated_after_thirty_rounds() {
    let (_dir, _, audits) = fixture();
    let peer = PeerId::random();
    let batch = [prove::Expected {
        id: ShardId([1; 32]),
        size: 1,
        answer: [0; 32],
    }];
    for round in 1..=30u32 {
        assert!(
            !audits.isolated(&peer),
            "isolated after only {} rounds",
            round - 1
        );
        prove::busy_audit(&audits, peer, &batch, 1000 + u64::from(round));
    }
    assert!(audits.isolated(&peer));
    let rep = audits.reputation(&peer);
    assert_eq!((rep.passed, rep.failed), (0, 10));
    assert!(!audits.proven_since(&peer, &batch[0].id, 0));
}

/// A node whose own runtime lags gives peers longer to prove: the deadline
/// grows with its health score.
#[test]
fn proof_deadlines_stretch_while_this_node_lags() {
    let (_dir, view, audits) = fixture();
    let base = shardnet_protocol::proof::deadline(1 << 20);
    assert_eq!(
        audits.deadline(1 << 20),
        base,
        "a healthy node waits the deadline"
    );
    view.lagged(Duration::from_secs(1));
    let score = view.health_score();
    assert!(score > 0, "a tick a whole period late raises the score");
    assert_eq!(audits.deadline(1 << 20), base * (score + 1));
}

fn one_copy() -> [prove::Expected; 1] {
    [prove::Expected {
        id: ShardId([2; 32]),
        size: 1 << 20,
        answer: [0; 32],
    }]
}

/// Audit rounds whose proofs all time out, until `peer` is isolated: the
/// round it was isolated in, if within `max`.
fn rounds_to_isolation(audits: &Audits, peer: PeerId, max: u32) -> Option<u32> {
    let deadline = audits.deadline(1 << 20);
    (1..=max).find(|round| {
        let now = 1000 + u64::from(*round);
        prove::timed_out(audits, peer, &one_copy(), now, true, deadline);
        audits.isolated(&peer)
    })
}

/// A healthy node counts every timed-out proof against the peer: one that
/// never answers is isolated after 10 rounds.
#[test]
fn a_healthy_node_counts_each_timeout() {
    let (_dir, _, audits) = fixture();
    let peer = PeerId::random();
    assert_eq!(rounds_to_isolation(&audits, peer, 40), Some(10));
    assert_eq!(audits.reputation(&peer).failed, 10);
    let c = audits.stats.snapshot();
    assert_eq!((c.timeouts, c.timeouts_excused), (10, 0));
}

/// While this node lags, a timed-out proof is a `Busy` round: an honest
/// peer behind this node's own queue is not blamed for each one (one
/// failure per `BUSY_ROUNDS`), and one that never answers is still
/// isolated, after 30 rounds. Its copy stays unproven throughout.
#[test]
fn timeouts_while_this_node_lags_count_as_busy_rounds() {
    let (_dir, view, audits) = fixture();
    view.lagged(Duration::from_secs(1));
    assert!(audits.lagging());
    let peer = PeerId::random();
    assert_eq!(rounds_to_isolation(&audits, peer, 40), Some(30));
    assert_eq!(audits.reputation(&peer).failed, 30 / u64::from(BUSY_ROUNDS));
    assert!(!audits.proven_since(&peer, &one_copy()[0].id, 0));
    let c = audits.stats.snapshot();
    assert_eq!((c.timeouts, c.timeouts_excused), (30, 30));
    // At backup time (not an audit) an excused timeout records nothing.
    let other = PeerId::random();
    let deadline = audits.deadline(1 << 20);
    prove::timed_out(&audits, other, &one_copy(), 2000, false, deadline);
    assert_eq!(audits.reputation(&other).failed, 0);
}
