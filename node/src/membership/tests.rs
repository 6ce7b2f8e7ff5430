use super::*;

fn hb() -> Heartbeat {
    hb_in("z")
}

/// A heartbeat from `zone`.
pub(super) fn hb_in(zone: &str) -> Heartbeat {
    Heartbeat {
        zone: zone.into(),
        capacity: 1,
        used: 0,
        version: "0".into(),
        addrs: vec![],
        draining: false,
        radius: None,
    }
}

#[test]
fn silent_peers_go_suspect_then_down_then_are_forgotten() {
    let v = View::new(
        PeerId::random(),
        Duration::from_millis(5),
        Duration::from_millis(60),
    );
    let p = PeerId::random();
    assert!(v.heard(p, hb()));
    assert_eq!(v.state(&p), Some(PeerState::Live));
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(v.state(&p), Some(PeerState::Suspect));
    assert_eq!(v.evict(Duration::from_millis(50)), 0);
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(v.state(&p), Some(PeerState::Down));
    assert_eq!(v.newly_down(), vec![p]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(v.evict(Duration::from_millis(50)), 1);
    assert_eq!(v.state(&p), None);
}

#[test]
fn heartbeats_over_the_bounds_are_refused() {
    let mut h = hb();
    h.addrs = vec!["/ip4/10.0.0.1/tcp/1".into(); MAX_HEARTBEAT_ADDRS + 1];
    assert!(h.check().unwrap_err().contains("addresses"));
    let mut h = hb();
    h.zone = "z".repeat(MAX_HEARTBEAT_FIELD + 1);
    assert!(h.check().is_err());
    assert!(hb().check().is_ok());
}

proptest::proptest! {
    /// Gossip from anyone: decoding and checking garbage never panics.
    #[test]
    fn gossip_garbage_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        if let Ok(Announcement::Heartbeat(h)) = Announcement::decode(&data) {
            let _ = h.verify();
        }
    }
}

#[test]
fn peers_without_admission_work_are_not_heard() {
    let local = PeerId::random();
    let v = View::new(local, Duration::from_secs(1), Duration::from_secs(60)).with_difficulty(8);
    let (mut light, mut heavy) = (Vec::new(), Vec::new());
    while light.len() < 5 || heavy.len() < 5 {
        let p = PeerId::random();
        if shardnet_protocol::admission::admitted(&p.to_bytes(), 8) {
            heavy.push(p);
        } else {
            light.push(p);
        }
    }
    for p in light.iter().chain(&heavy) {
        v.heard(*p, hb());
    }
    let known: Vec<PeerId> = v.candidates().into_iter().map(|c| c.peer).collect();
    assert!(heavy.iter().all(|p| known.contains(p)));
    assert!(light.iter().all(|p| !known.contains(p)));
    assert_eq!(v.unadmitted(), light.len() as u64);
    // The node's own id is always heard, whatever its work.
    v.heard(local, hb());
    assert!(v.state(&local).is_some());
}

#[test]
fn public_peers_are_placed_by_observed_prefix_in_an_open_swarm() {
    let local = PeerId::random();
    let (a, b, lan) = (PeerId::random(), PeerId::random(), PeerId::random());
    for open in [true, false] {
        let v = View::new(local, Duration::from_secs(1), Duration::from_secs(60))
            .with_observed_zones(open);
        for (p, zone) in [(a, "fresh-1"), (b, "fresh-2"), (lan, "rack-3")] {
            let mut h = hb();
            h.zone = zone.into();
            v.heard(p, h);
        }
        assert_eq!(v.observed(a, "8.8.8.1".parse().unwrap()), open);
        v.observed(b, "8.8.8.200".parse().unwrap());
        v.observed(lan, "10.0.0.7".parse().unwrap());
        let zone = |p: PeerId| {
            v.candidates()
                .into_iter()
                .find(|c| c.peer == p)
                .unwrap()
                .zone
        };
        if open {
            // Two ids from one /24 are one zone, whatever they announce.
            assert_eq!(zone(a), "net:8.8.8.0/24");
            assert_eq!(zone(b), "net:8.8.8.0/24");
        } else {
            assert_eq!((zone(a).as_str(), zone(b).as_str()), ("fresh-1", "fresh-2"));
        }
        assert_eq!(zone(lan), "rack-3");
        assert_eq!(v.observed_ip(&lan), Some("10.0.0.7".parse().unwrap()));
    }
}
