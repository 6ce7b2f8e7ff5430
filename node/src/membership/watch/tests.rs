use super::*;
use crate::membership::tests::hb_in as hb;

const PERIOD: Duration = Duration::from_millis(100);

/// A view with a 10 s refresh and 60 s patience: the short window is
/// 0.5 s, the long one 20.5 s.
fn view() -> View {
    View::new(PeerId::random(), PERIOD, Duration::from_secs(60))
        .with_refresh(Duration::from_secs(10))
}

fn quiet(v: &View, peer: &PeerId, for_: Duration) {
    v.lock().get_mut(peer).unwrap().seen = Instant::now().checked_sub(for_).unwrap();
}

/// Peers beyond the ring (more than 2 × 8): only the ring is watched.
fn crowd(v: &View, n: usize) -> Vec<PeerId> {
    let peers: Vec<PeerId> = (0..n).map(|_| PeerId::random()).collect();
    for p in &peers {
        v.heard(*p, hb("a"));
    }
    assert_eq!(v.update_watched(), n.min(ring::WATCH_EACH_SIDE * 2));
    peers
}

fn watched(v: &View, peers: &[PeerId], yes: bool) -> PeerId {
    let peers_lock = v.lock();
    *peers
        .iter()
        .find(|p| peers_lock[*p].watched == yes)
        .unwrap()
}

#[test]
fn watched_peers_are_probed_and_judged_on_the_probe_alone() {
    let v = view();
    let peers = crowd(&v, 30);
    let (near, far) = (watched(&v, &peers, true), watched(&v, &peers, false));
    quiet(&v, &near, Duration::from_secs(2));
    assert!(
        !v.probes_due(64).contains(&near),
        "quiet for two periods, but probed after a tenth of down_after (6 s)"
    );
    quiet(&v, &near, Duration::from_secs(7));
    quiet(&v, &far, Duration::from_secs(7));
    assert_eq!(
        v.state(&near),
        Some(PeerState::Live),
        "a new neighbour was last heard at its refresh: probe it first"
    );
    assert!(v.newly_silent().is_empty(), "no probe failed yet");
    let due = v.probes_due(64);
    assert!(due.contains(&near), "quiet for a tenth of down_after");
    assert!(!due.contains(&far), "not watched, nobody reported it");
    v.probe_failed(&near);
    assert_eq!(v.state(&near), Some(PeerState::Suspect));
    assert_eq!(v.newly_silent(), vec![near], "told once");
    assert!(v.newly_silent().is_empty());
    std::thread::sleep(PERIOD);
    assert!(
        v.probes_due(64).contains(&near),
        "and probed until it answers"
    );
    assert_eq!(
        v.state(&far),
        Some(PeerState::Live),
        "a refresh may be 10 s away"
    );
    quiet(&v, &far, Duration::from_secs(21));
    assert_eq!(
        v.state(&far),
        Some(PeerState::Suspect),
        "two refreshes missed"
    );
}

#[test]
fn a_report_is_checked_here_and_only_a_failed_probe_counts() {
    let v = view();
    let peers = crowd(&v, 30);
    let far = watched(&v, &peers, false);
    quiet(&v, &far, Duration::from_secs(9));
    v.want_check(&far);
    assert_eq!(
        v.state(&far),
        Some(PeerState::Live),
        "a report changes nothing"
    );
    assert_eq!(v.probes_due_why(64), vec![(far, ProbeWhy::Check)]);
    assert!(v.probes_due(64).is_empty(), "once a period");
    v.probe_failed(&far);
    // Its silence is taken to start one window ago, not at its last
    // refresh 9 s ago: suspect now, down only after its patience.
    assert_eq!(v.state(&far), Some(PeerState::Suspect));
    let (silent, _) = v.silence(&far).unwrap();
    assert!(silent < Duration::from_secs(1), "{silent:?}");
    v.pinged(&far);
    assert_eq!(v.state(&far), Some(PeerState::Live));
}

#[test]
fn reports_are_checked_within_a_budget_and_timeouts_stretch_probes() {
    let v = view();
    let peers = crowd(&v, 30);
    for p in &peers {
        v.want_check(p);
    }
    let due = v.probes_due(64);
    assert!(
        due.len() <= CHECKS_PER_PERIOD as usize + ring::WATCH_EACH_SIDE * 2,
        "{} probes",
        due.len()
    );
    let base = v.probe_timeout();
    v.probe_timed_out(&peers[0]);
    v.probe_timed_out(&peers[1]);
    assert_eq!(v.probe_timeout(), base * 3, "this node may be the slow one");
    v.probe_answered();
    assert_eq!(v.probe_timeout(), base * 2);
    v.suspected();
    assert_eq!(v.health_score(), 2, "suspected by others");
}

#[test]
fn down_peers_are_tried_again_one_a_period() {
    let v = view();
    let peers = crowd(&v, 3);
    for p in &peers {
        v.lock().get_mut(p).unwrap().down = true;
    }
    v.update_watched();
    assert!(
        v.wants_hello_from(&peers[0]),
        "a connection from it is news"
    );
    let due = v.probes_due_why(64);
    assert_eq!(due.len(), 1, "one down peer a period");
    assert_eq!(due[0].1, ProbeWhy::DownRetry);
    assert_eq!(v.probes_due(64).len(), 1, "then the next one");
    assert_eq!(v.probes_due(64).len(), 1);
    assert!(
        v.probes_due(64).is_empty(),
        "each tried at most once per retry"
    );
    std::thread::sleep(PERIOD * DOWN_RETRY_PERIODS);
    assert_eq!(v.probes_due(64).len(), 1);
}

#[test]
fn a_watched_peer_coming_back_makes_this_node_speak() {
    let v = view();
    let peers = crowd(&v, 30);
    let near = watched(&v, &peers, true);
    assert!(!v.take_republish());
    v.pinged(&near);
    assert!(!v.take_republish(), "it never left");
    quiet(&v, &near, Duration::from_secs(2));
    v.pinged(&near);
    assert!(!v.take_republish(), "quiet, but no probe failed");
    quiet(&v, &near, Duration::from_secs(2));
    v.probe_failed(&near);
    v.pinged(&near);
    assert!(v.take_republish(), "a partition may have healed");
    assert!(!v.take_republish(), "cleared");
    v.suspected();
    assert!(!v.take_republish(), "probes refute a report, not gossip");
}

#[test]
fn strangers_are_probed_and_joiners_get_live_records() {
    let v = view();
    let keys: Vec<libp2p::identity::Keypair> = (0..3)
        .map(|_| libp2p::identity::Keypair::generate_ed25519())
        .collect();
    for k in &keys {
        let rec = SignedHeartbeat::sign(k, hb("a"), 1);
        assert!(v.heard_record(k.public().to_peer_id(), rec, Instant::now()));
    }
    v.heard(PeerId::random(), hb("a"));
    v.update_watched();
    let stranger = PeerId::random();
    v.want_hello(stranger);
    assert!(v
        .probes_due_why(64)
        .contains(&(stranger, ProbeWhy::Stranger)));
    assert!(!v.probes_due(64).contains(&stranger), "once");
    let silent = keys[0].public().to_peer_id();
    quiet(&v, &silent, Duration::from_secs(2));
    v.probe_failed(&silent);
    let records = v.member_records(100, 1 << 20);
    assert_eq!(
        records.len(),
        2,
        "the silent one and the unsigned one are left out"
    );
    assert!(records.iter().all(|r| r.verify().unwrap() != silent));
    assert_eq!(v.member_records(1, 1 << 20).len(), 1);
    assert_eq!(v.member_records(100, 1).len(), 1, "the byte budget");
}

#[test]
fn a_handed_on_record_never_overrides_fresher_news() {
    let v = view();
    let k = libp2p::identity::Keypair::generate_ed25519();
    let p = k.public().to_peer_id();
    let old = Instant::now().checked_sub(Duration::from_secs(5)).unwrap();
    let mut a = hb("a");
    a.capacity = 7;
    assert!(v.heard_record(p, SignedHeartbeat::sign(&k, a, 10), old));
    assert_eq!(v.lock()[&p].seen, old, "news from when it was signed");
    v.heard(p, hb("b"));
    assert!(!v.heard_record(p, SignedHeartbeat::sign(&k, hb("c"), 5), old));
    assert_eq!(v.lock()[&p].hb.zone, "b");
}

/// A peer that announced its leave stays suspect however it answers while
/// it shuts down, and whoever hands on its last record; a record it signed
/// later (it restarted) brings it back. A leaving node answers no record.
#[test]
fn a_leave_is_undone_only_by_a_later_record() {
    let v = view();
    let k = libp2p::identity::Keypair::generate_ed25519();
    let p = k.public().to_peer_id();
    let rec = SignedHeartbeat::sign(&k, hb("a"), 10);
    assert!(v.heard_record(p, rec.clone(), Instant::now()));
    v.left(&p);
    assert_ne!(v.state(&p), Some(PeerState::Live));
    v.pinged(&p);
    assert!(!v.heard_record(p, rec, Instant::now()), "its last record");
    v.heard(p, hb("a"));
    assert_ne!(v.state(&p), Some(PeerState::Live), "answers while stopping");
    assert!(v.wants_hello_from(&p), "a reconnection is worth a probe");
    let later = SignedHeartbeat::sign(&k, hb("a"), 11);
    assert!(v.heard_record(p, later, Instant::now()));
    assert_eq!(v.state(&p), Some(PeerState::Live), "it restarted");
    v.pinged(&p);
    assert_eq!(v.state(&p), Some(PeerState::Live));

    let me = libp2p::identity::Keypair::generate_ed25519();
    let own = View::new(me.public().to_peer_id(), PERIOD, Duration::from_secs(60));
    own.heard_record(
        own.local(),
        SignedHeartbeat::sign(&me, hb("a"), 1),
        Instant::now(),
    );
    assert!(own.own_record().is_some());
    own.leave();
    assert!(own.own_record().is_none(), "probes hear Busy");
}

/// Two views reconcile through `protocol::digest` with the view's own
/// entries and records: the one that missed a member and an update pulls
/// exactly those, and then the two digests agree.
#[test]
fn a_digest_exchange_brings_a_view_up_to_date() {
    use shardnet_protocol::digest::{answer, wanted, Digest};
    let (a, b) = (view(), view());
    let keys: Vec<libp2p::identity::Keypair> = (0..20)
        .map(|_| libp2p::identity::Keypair::generate_ed25519())
        .collect();
    let now = Instant::now();
    for (i, k) in keys.iter().enumerate() {
        let p = k.public().to_peer_id();
        a.heard_record(p, SignedHeartbeat::sign(k, hb("a"), 10), now);
        // b missed the last member, and holds the first one's older record.
        if i + 1 < keys.len() {
            let at = if i == 0 { 5 } else { 10 };
            b.heard_record(p, SignedHeartbeat::sign(k, hb("a"), at), now);
        }
    }
    let own = b.digest_entries();
    let want = wanted(&own, &answer(&a.digest_entries(), &Digest::of(&own)));
    assert_eq!(want.len(), 2, "the missed member and the newer record");
    let records = a.records_by_prefix(&want, 1 << 20);
    assert_eq!(records.len(), 2);
    for r in records {
        let p = r.verify().unwrap();
        assert!(b.heard_record(p, r, now) || p == keys[0].public().to_peer_id());
    }
    assert_eq!(
        Digest::of(&a.digest_entries()),
        Digest::of(&b.digest_entries())
    );
    assert!(a.records_by_prefix(&want, 1).len() == 1, "the byte budget");
}

/// A failed dial of this node's own is checked by a probe, outside the
/// budget for other nodes' reports; an unknown or down peer is ignored.
#[test]
fn a_failed_dial_is_checked_by_a_probe() {
    let v = view();
    let peers = crowd(&v, 40);
    for p in &peers[..10] {
        v.want_check(p);
    }
    let far = watched(&v, &peers[10..], false);
    v.unreachable(&far);
    v.unreachable(&PeerId::random());
    let due = v.probes_due_why(64);
    assert!(due.contains(&(far, ProbeWhy::Check)));
    assert_eq!(
        due.iter().filter(|(_, w)| *w == ProbeWhy::Check).count(),
        CHECKS_PER_PERIOD as usize + usize::from(!peers[..10].contains(&far)),
        "reports within their budget, and the failed dial besides"
    );
}
