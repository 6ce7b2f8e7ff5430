//! Admission cost of peer ids against real node processes: a peer whose id
//! lacks the swarm's admission work is never heard (never given a shard,
//! never counted as a copy), and a node whose own id lacks it refuses to
//! start, saying how to fix it. A private swarm (`--swarm-key`) admits only
//! peers with its key.

mod common;

use common::swarm::{gossiper_as, Swarm, FAST};
use common::{Env, NodeProc, ID_DIFFICULTY};
use shardnet_node::datadir::DataDir;
use shardnet_node::membership::{Announcement, Heartbeat, SignedHeartbeat};
use shardnet_node::swarm::MEMBERSHIP_TOPIC;
use shardnet_protocol::admission;
use std::time::Duration;

/// A fresh identity with less work than the test swarms ask.
fn light_identity() -> libp2p::identity::Keypair {
    loop {
        let k = libp2p::identity::Keypair::generate_ed25519();
        if !admission::admitted(&k.public().to_peer_id().to_bytes(), ID_DIFFICULTY) {
            return k;
        }
    }
}

#[test]
fn a_peer_id_without_admission_work_is_not_heard() {
    let s = Swarm::start(2, 1, FAST);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let key = light_identity();
    let light = key.public().to_peer_id().to_string();
    let liar = gossiper_as(&rt, &s.boot, key.clone());
    rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..10 {
            let hb = Heartbeat {
                zone: "fresh".into(),
                capacity: 1 << 40,
                used: 0,
                version: "0".into(),
                addrs: vec![],
                draining: false,
                radius: None,
            };
            let rec = SignedHeartbeat::sign(&key, hb, shardnet_node::output::now_unix());
            liar.publish(MEMBERSHIP_TOPIC, Announcement::Heartbeat(rec).encode())
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    for n in &s.nodes {
        let status = n.status(&s.env).unwrap();
        assert_eq!(status["id_difficulty"], ID_DIFFICULTY, "{status}");
        let ignored = status["unadmitted_heartbeats"].as_u64().unwrap();
        assert!(ignored >= 1, "{}: {status}", n.name);
        let peers = n.run(&s.env, &["peers", "list", "--json"]).json();
        let ids: Vec<&str> = peers
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["peer_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2, "{}: {peers}", n.name);
        assert!(!ids.contains(&light.as_str()), "{}: {peers}", n.name);
    }
    drop(liar);
}

#[test]
fn a_node_whose_id_lacks_the_work_refuses_to_start() {
    let env = Env::new();
    DataDir::new(env.data_dir())
        .set_node_identity(&light_identity())
        .unwrap();
    env.run(&["init"]).ok();
    let out = env.run(&["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    assert_ne!(out.code, 0);
    let err = &out.stderr;
    assert!(err.contains("bits of admission work"), "{err}");
    assert!(err.contains("init --id-difficulty 8"), "{err}");
}

/// A private swarm (`--swarm-key`): its nodes find each other; a node
/// without the key, or with another one, cannot even connect.
#[test]
fn a_private_swarm_admits_only_peers_with_its_key() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = |name: &str| {
        let out = std::process::Command::new(common::bin())
            .args(["keys", "swarm-key"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("/key/swarm/psk/1.0.0/"), "{text}");
        let p = keys.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let ours = key_file("ours.key");
    let theirs = key_file("theirs.key");
    let mut args = FAST.to_vec();
    args.extend(["--swarm-key", ours.as_str()]);
    let s = Swarm::start(3, 1, &args);
    let mut other = FAST.to_vec();
    other.extend(["--swarm-key", theirs.as_str()]);
    let strangers = [
        NodeProc::start(&s.env, "keyless", "zone0", Some(&s.boot), FAST),
        NodeProc::start(&s.env, "wrong-key", "zone0", Some(&s.boot), &other),
    ];
    std::thread::sleep(Duration::from_secs(4));
    let live = |n: &NodeProc| {
        n.run(&s.env, &["peers", "list", "--json"])
            .json()
            .as_array()
            .map_or(0, |a| a.iter().filter(|p| p["live"] == true).count())
    };
    for n in &s.nodes {
        assert_eq!(live(n), 3, "{}", n.name);
    }
    for n in &strangers {
        assert_eq!(live(n), 1, "{} got in", n.name);
        assert_eq!(
            n.status(&s.env).unwrap()["connected_peers"],
            0,
            "{}",
            n.name
        );
    }
}
