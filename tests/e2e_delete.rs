//! End-to-end: `backup delete` on a swarm of real node processes. Two silver
//! backups share a file (dedup: the same chunks). Deleting one releases the
//! leases of its own shards on every holder (owner-signed releases), keeps
//! the shared ones, and leaves a tombstone in the catalogue: no node lists
//! the deleted backup again. Prune then removes the released copies on
//! every node, and the other backup still restores byte-identical on a
//! node that holds only the owner key.

mod common;

use common::random_bytes;
use common::swarm::{Swarm, FAST};
use std::collections::{HashMap, HashSet};
use std::fs;

/// Healthy shard id → (holders, retention states seen).
fn census(s: &Swarm) -> HashMap<String, (HashSet<String>, HashSet<String>)> {
    let mut m: HashMap<String, (HashSet<String>, HashSet<String>)> = HashMap::new();
    for n in s.live() {
        let rows = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for r in rows.as_array().unwrap() {
            if r["state"] != "Healthy" {
                continue;
            }
            let e = m.entry(r["id"].as_str().unwrap().to_string()).or_default();
            e.0.insert(n.name.clone());
            e.1.insert(r["retention"].as_str().unwrap().to_string());
        }
    }
    m
}

fn make_backup(s: &Swarm, name: &str, seed: u64) -> (String, std::path::PathBuf) {
    let src = s.env.path(name);
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("data.bin"), random_bytes(seed, 3 << 20)).unwrap();
    fs::write(src.join("common.bin"), random_bytes(80, 3 << 20)).unwrap();
    let r = s.nodes[0]
        .run(
            &s.env,
            &[
                "backup",
                "create",
                "--json",
                "--tier",
                "silver",
                src.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    (r["entry"]["id"].as_str().unwrap().to_string(), src)
}

fn listed(s: &Swarm, node: usize) -> Vec<String> {
    s.nodes[node]
        .run(&s.env, &["backup", "list", "--all", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn deleting_one_of_two_backups_keeps_the_shared_shards() {
    let s = Swarm::start(4, 4, FAST);
    let (a, _) = make_backup(&s, "a", 81);
    let (b, b_src) = make_backup(&s, "b", 82);
    let before = census(&s);
    assert!(before
        .values()
        .all(|v| v.1 == HashSet::from(["live".to_string()])));

    // Without a terminal, deleting needs --yes; an unknown id is an error.
    let r = s.nodes[0].run(&s.env, &["backup", "delete", &a]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    let r = s.nodes[0].run(&s.env, &["backup", "delete", &"ab".repeat(32), "--yes"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("no backup"), "{}", r.stderr);

    let rep = s.nodes[0]
        .run(&s.env, &["backup", "delete", &a, "--yes", "--json"])
        .ok()
        .json();
    eprintln!("{rep:#}");
    let shards = rep["shards"].as_u64().unwrap();
    let shared = rep["shared"].as_u64().unwrap();
    let released = rep["released"].as_u64().unwrap();
    assert!(shared >= 2, "common.bin's chunks are shared: {rep}");
    assert_eq!(released, shards - shared, "{rep}");
    assert_eq!(rep["unreleased"], 0, "{rep}");
    assert!(
        rep["catalogue"].as_str().unwrap().contains("published"),
        "{rep}"
    );

    // Every holder of a released shard dropped the lease: those shards are
    // orphaned everywhere, and nothing else is.
    let after = census(&s);
    let orphaned: Vec<&String> = after
        .iter()
        .filter(|(_, v)| v.1.contains("orphaned"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(orphaned.len() as u64, released, "{after:?}");
    for id in &orphaned {
        assert_eq!(after[*id].1.len(), 1, "a holder kept a lease on {id}");
        assert_eq!(after[*id].0, before[*id].0, "holders of {id} changed");
    }
    assert_eq!(
        after.values().filter(|v| v.1.contains("live")).count() as u64,
        before.len() as u64 - released
    );

    // The owner's node no longer lists the deleted backup.
    assert_eq!(listed(&s, 0), vec![b.clone()]);

    // Prune on every node removes the released copies (orphaned), and
    // only those.
    let mut pruned = 0;
    for n in s.live() {
        let job = n
            .run(&s.env, &["prune", "run", "--class", "orphaned", "--json"])
            .ok()
            .json();
        pruned += job["quarantined"].as_u64().unwrap();
    }
    let held: u64 = orphaned.iter().map(|id| after[*id].0.len() as u64).sum();
    assert_eq!(pruned, held);
    let pruned_census = census(&s);
    assert_eq!(pruned_census.len() as u64, before.len() as u64 - released);

    // The other backup restores byte-identical on a node with the key only.
    s.restore_elsewhere(0, 3, &b, &b_src);
    let out = s.env.path(&format!("restored-{b}"));
    let name = b_src.file_name().unwrap();
    assert_eq!(
        fs::read(out.join(name).join("common.bin")).unwrap(),
        random_bytes(80, 3 << 20)
    );
    // There, too, the catalogue lists only the other backup: the tombstone
    // travels in the record.
    assert_eq!(listed(&s, 3), vec![b.clone()]);
    let r = s.nodes[3].run(&s.env, &["backup", "show", &a]);
    assert_ne!(r.code, 0, "the deleted backup is gone for the key's owner");
}
