//! End-to-end: `keys rotate` on a swarm of real node processes. The owner
//! rotates its key after two backups that share a file; the old manifests
//! become orphans that prune removes on every node, the data shards keep
//! exactly one live lease (the new key's), and a node that joins afterwards
//! with only the new key lists and restores both backups byte-identical,
//! while the old key finds nothing but the revocation. With `--reencrypt`
//! every shard stored before is orphaned and pruned, and the backup still
//! restores from what is new.

mod common;

use common::random_bytes;
use common::swarm::{Swarm, FAST};
use std::collections::HashSet;
use std::fs;

fn make_backup(s: &Swarm, name: &str, seed: u64) -> (String, std::path::PathBuf) {
    let src = s.env.path(name);
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("data.bin"), random_bytes(seed, 3 << 20)).unwrap();
    fs::write(src.join("common.bin"), random_bytes(90, 2 << 20)).unwrap();
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
    let mut v: Vec<String> = s.nodes[node]
        .run(&s.env, &["backup", "list", "--all", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn key_of(s: &Swarm, node: usize) -> String {
    s.nodes[node]
        .run(&s.env, &["keys", "export"])
        .ok()
        .stdout
        .trim()
        .to_string()
}

#[test]
fn rotating_the_owner_key_moves_every_backup_to_the_new_key() {
    let mut s = Swarm::start(4, 4, FAST);
    let (a, a_src) = make_backup(&s, "a", 91);
    let (b, b_src) = make_backup(&s, "b", 92);
    let old_key = key_of(&s, 0);
    let before = s.census();

    // Without a terminal it needs --yes.
    let r = s.nodes[0].run(&s.env, &["keys", "rotate"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(key_of(&s, 0), old_key);

    let t = std::time::Instant::now();
    let rep = s.nodes[0]
        .run(&s.env, &["keys", "rotate", "--yes", "--json"])
        .ok()
        .json();
    eprintln!("rotation took {:.1} s: {rep:#}", t.elapsed().as_secs_f64());
    let new_key = key_of(&s, 0);
    assert_ne!(new_key, old_key);
    let retired = fs::read_to_string(rep["retired_key"].as_str().unwrap()).unwrap();
    assert_eq!(retired.trim(), old_key, "the old key is kept aside");
    let moved = rep["backups"].as_array().unwrap();
    assert_eq!(moved.len(), 2);
    let mut new_ids: Vec<String> = moved
        .iter()
        .map(|m| m["new_id"].as_str().unwrap().to_string())
        .collect();
    new_ids.sort();
    let mut old_ids: Vec<String> = moved
        .iter()
        .map(|m| m["old_id"].as_str().unwrap().to_string())
        .collect();
    old_ids.sort();
    let mut ab = vec![a.clone(), b.clone()];
    ab.sort();
    assert_eq!(old_ids, ab);
    assert!(
        new_ids.iter().all(|n| !ab.contains(n)),
        "new manifests, new ids"
    );
    assert!(rep["revocation_confirmed"].as_u64().unwrap() >= 3, "{rep}");
    assert!(rep["leases_moved"].as_u64().unwrap() >= 3 * rep["data_shards"].as_u64().unwrap());
    assert_eq!(listed(&s, 0), new_ids);

    // The old manifests are orphans on every holder; every other shard
    // (data shards, new manifests) is live: the new lease replaced the old.
    let after = s.census();
    let orphaned: Vec<&String> = after
        .iter()
        .filter(|(_, v)| v.0.contains("orphaned"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        orphaned.len() as u64,
        rep["old_manifest_shards"].as_u64().unwrap(),
        "{after:?}"
    );
    assert!(orphaned.iter().all(|id| before.contains_key(*id)));
    assert!(after
        .iter()
        .filter(|(id, _)| !orphaned.contains(id))
        .all(|(_, v)| v.0 == HashSet::from(["live".to_string()])));

    // Prune removes the old manifests everywhere, and nothing else.
    let mut pruned = 0;
    for n in s.live() {
        let job = n
            .run(&s.env, &["prune", "run", "--class", "orphaned", "--json"])
            .ok()
            .json();
        pruned += job["quarantined"].as_u64().unwrap();
        let id = job["id"].as_u64().unwrap().to_string();
        n.run(&s.env, &["prune", "purge", &id, "--json"]).ok();
    }
    let held: usize = orphaned.iter().map(|id| after[*id].1).sum();
    assert_eq!(pruned, held as u64);
    assert_eq!(s.census().len(), after.len() - orphaned.len());

    // A node that joins now, with only the new key, lists and restores both.
    s.add("zone1", FAST);
    s.converge();
    s.nodes[4]
        .run(&s.env, &["keys", "import", &new_key, "--force"])
        .ok();
    assert_eq!(listed(&s, 4), new_ids);
    for (old, src) in [(&a, &a_src), (&b, &b_src)] {
        let new = moved.iter().find(|m| m["old_id"] == old.as_str()).unwrap()["new_id"]
            .as_str()
            .unwrap()
            .to_string();
        let out = s.env.path(&format!("restored-{new}"));
        s.nodes[4]
            .run(&s.env, &["backup", "restore", &new, out.to_str().unwrap()])
            .ok();
        let name = src.file_name().unwrap();
        for f in ["data.bin", "common.bin"] {
            assert!(
                fs::read(out.join(name).join(f)).unwrap() == fs::read(src.join(f)).unwrap(),
                "{f} of {new} differs"
            );
        }
    }

    // The old key lists nothing: its catalogue ends in the revocation.
    s.nodes[3]
        .run(&s.env, &["keys", "import", &old_key, "--force"])
        .ok();
    let r = s.nodes[3].run(&s.env, &["backup", "list"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("keys rotate"), "{}", r.stderr);
    let r = s.nodes[3].run(&s.env, &["backup", "show", &a]);
    assert_ne!(r.code, 0, "the old manifest is gone");
}

/// Every crash point of a rotation (after each re-sealed manifest, after the
/// leases, after the new catalogue, after the revocation): the owner's node
/// is killed there, restarted, and `keys rotate` run again finishes with the
/// key the first run made; both backups are then listed and restore
/// byte-identical on another node holding only that key. Each trial rotates
/// the key left by the one before.
#[test]
fn a_rotation_cut_short_anywhere_resumes_with_the_same_key() {
    let mut s = Swarm::start(4, 4, FAST);
    // The owner is node 2: node 1 is everyone's bootstrap address.
    let owner = 1;
    let mk = |s: &Swarm, name: &str, seed: u64| {
        let src = s.env.path(name);
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("data.bin"), random_bytes(seed, 2 << 20)).unwrap();
        let r = s.nodes[owner]
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
        (
            r["entry"]["info"]["name"].as_str().unwrap().to_string(),
            src,
        )
    };
    let backups = [mk(&s, "c", 93), mk(&s, "d", 94)];
    // Two manifests, then leases, catalogue and revocation.
    for k in 1..=5 {
        let before = key_of(&s, owner);
        s.nodes[owner].kill();
        let at = format!("rotate:{k}");
        s.restart_with(owner, FAST, &[("SHARDNET_CRASH_AT", &at)]);
        s.converge();
        let r = s.nodes[owner].run(&s.env, &["keys", "rotate", "--yes", "--json"]);
        assert_ne!(r.code, 0, "trial {k}: the node died mid-way");
        assert!(s.nodes[owner]
            .wait_exit(std::time::Duration::from_secs(30))
            .is_some());
        let pending = fs::read_to_string(s.nodes[owner].data.join("owner.key.rotating")).unwrap();
        assert_eq!(
            key_of(&s, owner),
            before,
            "trial {k}: the old key is still installed"
        );

        s.restart(owner, FAST);
        s.converge();
        let rep = s.nodes[owner]
            .run(&s.env, &["keys", "rotate", "--yes", "--json"])
            .ok()
            .json();
        let now = key_of(&s, owner);
        assert_eq!(
            now,
            pending.trim(),
            "trial {k}: resumed with the same new key"
        );
        assert!(!s.nodes[owner].data.join("owner.key.rotating").exists());
        let ids = listed(&s, owner);
        assert_eq!(ids.len(), 2, "trial {k}: {ids:?} {rep}");
        // Another node with only the new key restores both.
        s.nodes[3]
            .run(&s.env, &["keys", "import", &now, "--force"])
            .ok();
        assert_eq!(listed(&s, 3), ids, "trial {k}");
        let list = s.nodes[3]
            .run(&s.env, &["backup", "list", "--json"])
            .ok()
            .json();
        for (name, src) in &backups {
            let id = list
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["info"]["name"] == name.as_str())
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let out = s.env.path(&format!("restored-{k}-{id}"));
            s.nodes[3]
                .run(&s.env, &["backup", "restore", &id, out.to_str().unwrap()])
                .ok();
            assert!(
                fs::read(out.join(src.file_name().unwrap()).join("data.bin")).unwrap()
                    == fs::read(src.join("data.bin")).unwrap(),
                "trial {k}: {name} differs"
            );
        }
        eprintln!(
            "trial {k}: resumed, {} backups moved in the second run",
            rep["backups"].as_array().unwrap().len()
        );
    }
}

/// `keys rotate --reencrypt`: every data shard is rewritten under the new
/// key. Every shard stored before (old data shards and old manifests) is
/// orphaned on every holder and pruned; what is left is new, and restores
/// byte-identical on a node that joins with only the new key.
#[test]
fn rotating_with_reencrypt_rewrites_every_data_shard() {
    let mut s = Swarm::start(4, 4, FAST);
    let (_, src) = make_backup(&s, "e", 95);
    let before: HashSet<String> = s.census().keys().cloned().collect();
    let t = std::time::Instant::now();
    let rep = s.nodes[0]
        .run(
            &s.env,
            &["keys", "rotate", "--reencrypt", "--yes", "--json"],
        )
        .ok()
        .json();
    eprintln!(
        "rotation with re-encryption took {:.1} s: reencrypted {}, old manifest shards {}",
        t.elapsed().as_secs_f64(),
        rep["reencrypted"],
        rep["old_manifest_shards"]
    );
    let data = rep["reencrypted"].as_u64().unwrap();
    assert!(data >= 5, "{rep}");
    assert_eq!(rep["data_shards"], data, "{rep}");
    assert_eq!(
        rep["old_manifest_shards"].as_u64().unwrap() as usize,
        before.len(),
        "{rep}"
    );
    let after = s.census();
    for id in &before {
        assert_eq!(
            after[id].0,
            HashSet::from(["orphaned".to_string()]),
            "old shard {id} still leased"
        );
    }
    let fresh: Vec<&String> = after.keys().filter(|id| !before.contains(*id)).collect();
    assert!(fresh.len() as u64 > data, "new data shards and manifest");
    assert!(fresh
        .iter()
        .all(|id| after[*id].0 == HashSet::from(["live".to_string()])));
    for n in s.live() {
        n.run(&s.env, &["prune", "run", "--class", "orphaned", "--json"])
            .ok();
    }
    let left: HashSet<String> = s.census().keys().cloned().collect();
    assert!(left.is_disjoint(&before), "an old shard survived prune");
    let new_key = key_of(&s, 0);
    s.add("zone1", FAST);
    s.converge();
    s.nodes[4]
        .run(&s.env, &["keys", "import", &new_key, "--force"])
        .ok();
    let ids = listed(&s, 4);
    assert_eq!(ids.len(), 1);
    let out = s.env.path("restored-e");
    s.nodes[4]
        .run(
            &s.env,
            &["backup", "restore", &ids[0], out.to_str().unwrap()],
        )
        .ok();
    for f in ["data.bin", "common.bin"] {
        assert!(
            fs::read(out.join(src.file_name().unwrap()).join(f)).unwrap()
                == fs::read(src.join(f)).unwrap(),
            "{f} differs"
        );
    }
}
