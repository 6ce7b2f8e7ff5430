//! End-to-end: liars in a swarm of real node processes. Two peers with zones
//! of their own (so zone spread wants them for every shard) say they hold
//! everything and acknowledge every store: one keeps the bytes just long
//! enough to prove receipt, the other answers every proof `Busy`. Their
//! copies never count, no honest copy is dropped on their word, every shard
//! gets its copies on honest nodes, the liars collect evidence, the backup
//! restores byte-identical after an honest holder dies, and `backup verify`
//! counts only the copies proven with sampled Bao slices. And when liars
//! surround a new backup, a copy of every shard still lands on a vetted peer.
//! Sybils ground to an owner's catalogue slot cannot make a backup unlisted:
//! the record also lives on the owner's trusted floor.

mod common;

use common::liar::{Liar, Lie};
use common::swarm::{backup, histogram, total_shards, Swarm, FAST};
use std::time::{Duration, Instant};

/// Node `i`'s view of `peer`'s reputation: (standing, failed rounds).
fn reputation(s: &Swarm, i: usize, peer: &str) -> (String, u64) {
    let r = s.nodes[i].run(&s.env, &["peers", "reputation", peer, "--json"]);
    let v = r.json();
    let first = v.as_array().and_then(|a| a.first().cloned());
    first.map_or((String::new(), 0), |p| {
        (
            p["standing"].as_str().unwrap_or("").to_string(),
            p["failed"].as_u64().unwrap_or(0),
        )
    })
}

#[test]
fn liars_never_count_as_copies_and_lose_their_standing() {
    let mut s = Swarm::start(4, 1, FAST);
    let forgetful = Liar::start(
        &s.boot,
        "x1",
        Lie::Forgetful {
            keep: Duration::from_secs(2),
            claims_all: true,
        },
    );
    let evasive = Liar::start(&s.boot, "x2", Lie::Evasive);
    let liars = [forgetful.peer.to_string(), evasive.peer.to_string()];
    for n in s.live() {
        n.wait_for(
            Duration::from_secs(60),
            "both liars live in its view",
            |n| {
                let v = n.run(&s.env, &["peers", "list", "--json"]).json();
                liars.iter().all(|l| {
                    v.as_array().is_some_and(|a| {
                        a.iter()
                            .any(|p| p["peer_id"] == l.as_str() && p["live"] == true)
                    })
                })
            },
        );
    }

    let (id, src) = backup(&s, 0, "silver", 31, 12);
    // Every copy the backup counted was proved: the evasive liar proved
    // nothing, so its copies went to honest nodes; the forgetful one proved
    // receipt. So every shard is on at least two honest nodes at once.
    let shards = total_shards(&s);
    let after = s.pass();
    assert!(
        after.values().all(|(on, _, _)| on.len() >= 2),
        "honest copies right after the backup: {:?}",
        histogram(&after)
    );

    // Audits find the forgetful liar out, the evasive one times out, and
    // their places go to honest nodes; no honest copy ever goes meanwhile.
    let start = Instant::now();
    loop {
        let m = s.sample();
        for (shard, (on, _, _)) in &m {
            assert!(
                on.len() >= 2,
                "shard {shard} fell to {} honest copies: {on:?}",
                on.len()
            );
        }
        let full = s.pass().values().all(|(on, w, _)| on.len() >= *w);
        let (standing, _) = reputation(&s, 0, &liars[0]);
        let (_, evasive_failed) = reputation(&s, 0, &liars[1]);
        if full && standing == "isolated" && evasive_failed > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "after {:?}: honest copies {:?}, forgetful liar {standing:?}, evasive liar failed {evasive_failed} rounds\n{}",
            start.elapsed(),
            histogram(&m),
            s.nodes[0].log_text().lines().rev().take(30).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "honest copies complete and the forgetful liar isolated {:?} after the backup",
        start.elapsed()
    );
    let why = s.nodes[0]
        .run(&s.env, &["peers", "reputation", &liars[0], "--why"])
        .ok()
        .stdout;
    assert!(why.contains("proof"), "{why}");
    eprintln!("node1 on the forgetful liar:\n{why}");
    // The liar pushed its shards on with an avoid list naming every honest
    // peer, under the owner's name but without its signature: ignored.
    assert!(
        s.nodes.iter().any(|n| n
            .log_text()
            .contains("ignored an avoid list not signed by an owner")),
        "no honest node saw the forged avoid list"
    );
    eprintln!(
        "node1 on the evasive liar: {:?}",
        reputation(&s, 0, &liars[1])
    );

    // An honest holder dies; the three left hold everything, and a node that
    // only imports the key restores it byte-identical.
    s.nodes[2].kill();
    s.wait_exact(Duration::from_secs(90), false, shards);
    s.restore_elsewhere(0, 3, &id, &src);
    // The quick verify counts proven copies only: the three honest ones;
    // the liars claim every shard and prove none.
    let v = s.nodes[3]
        .run(&s.env, &["backup", "verify", &id, "--json"])
        .ok()
        .json();
    assert_eq!(v["problems"], serde_json::json!([]), "{v}");
    assert_eq!(v["copies_wanted"], 3, "{v}");
    let hist = v["proven_copies"].as_array().unwrap();
    assert!(
        !hist.is_empty() && hist.iter().all(|e| e[0] == 3),
        "proven copies per shard: {v}"
    );
    let human = s.nodes[3]
        .run(&s.env, &["backup", "verify", &id])
        .ok()
        .stdout;
    assert!(human.contains("proven copies per data shard"), "{human}");
    drop((forgetful, evasive));
}

#[test]
fn a_backup_keeps_a_copy_on_a_vetted_peer_when_liars_surround_it() {
    let s = Swarm::start(3, 1, FAST);
    // A first backup, so that the honest peers audit each other into good
    // standing (vetted after 3 passed rounds in tests). Node 1 audits only
    // copies it holds too: at silver's 3 copies on 3 nodes it holds every
    // shard with both peers. (At bronze's 2, a peer shared none of the few
    // shards with node 1 in about one run in ten, (2/3)^shards, and was
    // never vetted.)
    backup(&s, 0, "silver", 41, 4);
    let honest: Vec<String> = (1..3)
        .map(|i| {
            s.nodes[i].status(&s.env).unwrap()["peer_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let start = Instant::now();
    while !honest.iter().all(|p| reputation(&s, 0, p).0 == "good") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "honest peers not vetted: {:?}",
            honest
                .iter()
                .map(|p| reputation(&s, 0, p))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("honest peers vetted after {:?}", start.elapsed());
    liars_surround_a_backup(&s, 0, 2, 42);
}

/// Three honest nodes in one zone; node 3 restarted trusting nodes 1 and 2
/// (`--trust-peer`), whose ids come back too.
fn anchored_swarm() -> (Swarm, Vec<String>) {
    let mut s = Swarm::start(3, 1, FAST);
    let ids: Vec<String> = (0..2)
        .map(|i| {
            s.nodes[i].status(&s.env).unwrap()["peer_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    s.stop(2);
    let mut args = FAST.to_vec();
    for id in &ids {
        args.extend(["--trust-peer", id.as_str()]);
    }
    s.restart(2, &args);
    s.converge();
    (s, ids)
}

/// In a new swarm nobody is vetted, so only the operator's word can anchor
/// trust: node 3 trusts nodes 1 and 2 (`--trust-peer`), and its backup keeps
/// a copy of every shard on them or itself from the first minute.
#[test]
fn in_a_new_swarm_a_copy_of_every_shard_stays_on_a_peer_the_operator_trusts() {
    let (s, _) = anchored_swarm();
    liars_surround_a_backup(&s, 2, 0, 43);
}

/// Six quiet liars with fresh zones join; node `from` backs up, and every
/// shard must have a copy on an honest node right away; node `to` restores
/// it once the liars dropped their bytes.
fn liars_surround_a_backup(s: &Swarm, from: usize, to: usize, seed: u64) {
    // Six quiet liars with fresh zones: zone spread puts every copy of about
    // a quarter of the new shards on them, and they prove receipt.
    let liars: Vec<Liar> = (1..=6)
        .map(|z| {
            Liar::start(
                &s.boot,
                &format!("x{z}"),
                Lie::Forgetful {
                    keep: Duration::from_secs(2),
                    claims_all: false,
                },
            )
        })
        .collect();
    s.nodes[from].wait_for(Duration::from_secs(60), "the liars live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array()
            .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == 3 + liars.len())
    });
    let before = total_shards(s);
    let t = Instant::now();
    let (id, src) = backup(s, from, "silver", seed, 16);
    eprintln!("backup among liars took {:?}", t.elapsed());
    // Every shard of the new backup has a copy on an honest node right away
    // (the trusted floor), so the liars dropping theirs loses nothing.
    let new = s.nodes[from]
        .run(&s.env, &["backup", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .map(|b| b["shards"].as_u64().unwrap() as usize)
        .unwrap();
    let census = total_shards(s);
    assert_eq!(
        census,
        before + new,
        "shards of the new backup with no copy on an honest node"
    );
    // Once the liars have dropped their bytes, a node with only the key
    // restores it byte-identical (the liars' wrong bytes are refused).
    std::thread::sleep(Duration::from_secs(3));
    s.restore_elsewhere(from, to, &id, &src);
    drop(liars);
}

/// A peer that announces room and refuses every store as full collects
/// evidence (once per backup), and the backup goes around it.
#[test]
fn a_peer_that_refuses_stores_it_announced_room_for_loses_standing() {
    let s = Swarm::start(3, 1, FAST);
    let hoarder = Liar::start(&s.boot, "x1", Lie::Hoarder);
    let peer = hoarder.peer.to_string();
    s.nodes[0].wait_for(Duration::from_secs(60), "the hoarder live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array().is_some_and(|a| {
            a.iter()
                .any(|p| p["peer_id"] == peer.as_str() && p["live"] == true)
        })
    });
    // Its fresh zone puts it in every responsible set.
    backup(&s, 0, "silver", 51, 4);
    let why = s.nodes[0]
        .run(&s.env, &["peers", "reputation", &peer, "--why"])
        .ok()
        .stdout;
    assert!(
        why.contains("refused a store as full while announcing"),
        "{why}"
    );
    let (_, failed) = reputation(&s, 0, &peer);
    assert_eq!(failed, 1, "one piece of evidence per backup: {why}");
    drop(hoarder);
}

/// Four peers in fresh zones that announce room and refuse every store,
/// next to two honest nodes that hold every data shard: separation keeps
/// the backup's index off those two, and only the refusers are left. The
/// index then goes to the two after all (durability first) instead of the
/// backup failing, and another node restores it.
#[test]
fn a_backup_survives_refusers_where_separation_would_leave_only_them() {
    let s = Swarm::start(2, 1, FAST);
    let hoarders: Vec<Liar> = (1..=4)
        .map(|z| Liar::start(&s.boot, &format!("h{z}"), Lie::Hoarder))
        .collect();
    s.nodes[0].wait_for(Duration::from_secs(60), "the hoarders live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array()
            .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == 6)
    });
    let (id, src) = backup(&s, 0, "bronze", 62, 2);
    s.restore_elsewhere(0, 1, &id, &src);
    drop(hoarders);
}

/// `keys rotate` revokes the old key only once a majority of the new
/// key's catalogue slot confirmed the new record: with four peers that
/// refuse stores and catalogue records among six, at most the two honest
/// nodes of the slot's five confirm it, so the rotation stops with the old
/// key installed; once those peers are gone it resumes with the same new
/// key. (Refusers that kept shards would take the re-sealed index, which
/// separation keeps off the two honest holders of every data shard, and
/// take it with them when they go.)
#[test]
fn a_rotation_waits_for_a_majority_to_keep_the_new_catalogue() {
    let s = Swarm::start(2, 1, FAST);
    backup(&s, 0, "bronze", 61, 2);
    let refusers: Vec<Liar> = (1..=4)
        .map(|z| Liar::start(&s.boot, &format!("h{z}"), Lie::NoCatalogue))
        .collect();
    let env = &s.env;
    let live = |n: usize| {
        move |p: &common::NodeProc| {
            let v = p.run(env, &["peers", "list", "--json"]).json();
            v.as_array()
                .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == n)
        }
    };
    s.nodes[0].wait_for(Duration::from_secs(60), "the refusers live", live(6));
    let key = |s: &Swarm| {
        s.nodes[0]
            .run(&s.env, &["keys", "export"])
            .ok()
            .stdout
            .trim()
            .to_string()
    };
    let old = key(&s);
    let r = s.nodes[0].run(&s.env, &["keys", "rotate", "--yes", "--json"]);
    assert_ne!(r.code, 0, "rotated with a minority: {}", r.stdout);
    assert!(
        r.stderr.contains("confirmed its record") && r.stderr.contains("old key stays installed"),
        "{}",
        r.stderr
    );
    assert_eq!(key(&s), old, "the old key is still installed");
    let pending = std::fs::read_to_string(s.nodes[0].data.join("owner.key.rotating"))
        .expect("the new key is kept for the next run");

    drop(refusers);
    s.nodes[0].wait_for(Duration::from_secs(60), "the refusers gone", live(2));
    let rep = s.nodes[0]
        .run(&s.env, &["keys", "rotate", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(key(&s), pending.trim(), "resumed with the same new key");
    assert_eq!(rep["backups"].as_array().map(Vec::len), Some(1), "{rep}");
}

/// Seven liars ground to node 2's catalogue slot take all of it, and the
/// margin honest holders keep records within (5 + 2 spill): they answer
/// "no record" to every read and accept every new record. Node 2 trusts
/// nodes 0 and 1 (`--trust-peer`), which keep its data, so its new record
/// also goes to them, and a machine holding only the owner's key (node 0
/// here) still lists every backup. Without that floor the second backup is
/// listed nowhere but on the liars.
#[test]
fn sybils_on_the_catalogue_slot_cannot_unlist_a_backup() {
    let (s, ids) = anchored_swarm();
    // A first backup while the slot is the three honest nodes: each keeps
    // the record and, at silver's 3 copies, every shard.
    let (first, _) = backup(&s, 2, "silver", 51, 2);
    let key = s.nodes[2]
        .run(&s.env, &["keys", "export"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let owner = shardnet_protocol::MasterKey::from_recovery_string(&key).unwrap();
    let slot = shardnet_protocol::catalogue::slot(
        &shardnet_protocol::catalogue::SignedCatalogue::owner_of(&owner),
    );
    let t = Instant::now();
    let liars: Vec<Liar> = (1..=7)
        .map(|z| {
            let lie = Lie::Forgetful {
                keep: Duration::from_secs(600),
                claims_all: false,
            };
            Liar::start_near(&s.boot, &format!("c{z}"), lie, &slot.0, 7)
        })
        .collect();
    eprintln!("7 ids ground to the slot in {:?}", t.elapsed());
    s.nodes[2].wait_for(Duration::from_secs(60), "the liars live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array()
            .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == 3 + liars.len())
    });
    let (second, _) = backup(&s, 2, "silver", 52, 2);
    s.nodes[0]
        .run(&s.env, &["keys", "import", &key, "--force"])
        .ok();
    // Published with the backup, or by the owner's upkeep (every 5 scans)
    // when the backup's own publish found no quorum under load.
    let t = Instant::now();
    let listed = loop {
        let listed: Vec<String> = s.nodes[0]
            .run(&s.env, &["backup", "list", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect();
        if listed.contains(&second) || t.elapsed() > Duration::from_secs(60) {
            break listed;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!("second backup listed after {:?}", t.elapsed());
    assert!(listed.contains(&first), "{listed:?}");
    let log = s.nodes[2].log_text();
    assert!(
        listed.contains(&second),
        "the backup made while sybils held the slot is unlisted: {listed:?}\n{}\nnode0: {}\n{:?}",
        log.lines()
            .filter(|l| l.contains("atalogue"))
            .collect::<Vec<_>>()
            .join("\n"),
        s.nodes[0]
            .log_text()
            .lines()
            .filter(|l| l.contains("atalogue"))
            .collect::<Vec<_>>()
            .join("\n"),
        ids.iter().map(|p| reputation(&s, 2, p)).collect::<Vec<_>>(),
    );
    drop(liars);
}
