//! The remembered peers file.

use super::persist::{load_known_peers, save_known_peers, KNOWN_PER_PEER};
use crate::datadir::DataDir;
use crate::membership::{Heartbeat, View};
use libp2p::PeerId;
use std::time::Duration;

fn hb(addrs: Vec<String>) -> Heartbeat {
    Heartbeat {
        zone: "z".into(),
        capacity: 1,
        used: 0,
        version: "0".into(),
        addrs,
        draining: false,
        radius: None,
    }
}

/// One peer advertising many addresses cannot take every slot of the
/// remembered peers: a restart still dials the others.
#[test]
fn remembered_peers_are_spread_over_peers() {
    let dir = tempfile::tempdir().unwrap();
    let dd = DataDir::new(dir.path().join("d"));
    std::fs::create_dir_all(dd.root()).unwrap();
    let view = View::new(
        PeerId::random(),
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    let greedy = PeerId::random();
    view.heard(
        greedy,
        hb((0..8).map(|i| format!("/ip4/10.0.0.{i}/tcp/1")).collect()),
    );
    let honest: Vec<PeerId> = (0..10).map(|_| PeerId::random()).collect();
    for (i, p) in honest.iter().enumerate() {
        view.heard(*p, hb(vec![format!("/ip4/10.1.0.{i}/tcp/1")]));
    }
    save_known_peers(&dd, &view);
    let known: Vec<String> = load_known_peers(&dd)
        .iter()
        .map(|a| a.to_string())
        .collect();
    let of = |p: &PeerId| known.iter().filter(|a| a.ends_with(&p.to_string())).count();
    assert_eq!(of(&greedy), KNOWN_PER_PEER, "{known:?}");
    assert!(honest.iter().all(|p| of(p) == 1), "{known:?}");
}
