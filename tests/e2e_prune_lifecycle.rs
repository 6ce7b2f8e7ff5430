//! End-to-end: the two prune classes decided from leases alone, expired and
//! orphaned, on a live 5-node swarm with repair running.
//!
//! Three backups of one owner: silver `keep`, bronze `old` (90 days) and
//! gold `gone`, which is deleted (its shards orphaned on every holder).
//! Every node then restarts 100 days ahead (`--clock-offset`): `old` is past
//! its grace and expired. For each class, in phases across all five nodes:
//! plan and run (every copy of the class quarantined, nowhere served), roll
//! back (each copy back, re-hashed: `old` restores byte-identical again), run
//! again and purge (its copies gone from the swarm). At every sample each of
//! `keep`'s shards has at least `min_copies` (3) healthy copies, and `keep`
//! restores byte-identical at the end.

mod common;

use common::swarm::{backup, Swarm, FAST};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fs;

/// Healthy shard id → (holders, retention state).
fn census(s: &Swarm) -> HashMap<String, (HashSet<String>, String)> {
    let mut m: HashMap<String, (HashSet<String>, String)> = HashMap::new();
    for n in s.live() {
        let rows = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for r in rows.as_array().unwrap() {
            if r["state"] != "Healthy" {
                continue;
            }
            let e = m.entry(r["id"].as_str().unwrap().to_string()).or_default();
            e.0.insert(n.name.clone());
            e.1 = r["retention"].as_str().unwrap().to_string();
        }
    }
    m
}

/// Every shard of `keep` still has 3 healthy copies.
fn keep_safe(s: &Swarm, keep: &HashSet<String>, when: &str) {
    let c = census(s);
    for id in keep {
        let n = c.get(id).map_or(0, |v| v.0.len());
        assert!(
            n >= 3,
            "{when}: shard {id} of the kept backup has {n} healthy copies"
        );
    }
}

fn each(s: &Swarm, args: &[&str]) -> Vec<Value> {
    s.nodes
        .iter()
        .map(|n| n.run(&s.env, args).ok().json())
        .collect()
}

fn restores(s: &Swarm, id: &str, src: &std::path::Path, tag: &str) -> bool {
    let out = s.env.path(&format!("restored-{tag}-{id}"));
    let r = s.nodes[0].run(&s.env, &["backup", "restore", id, out.to_str().unwrap()]);
    r.code == 0
        && fs::read(out.join(src.file_name().unwrap()).join("data.bin")).ok()
            == fs::read(src.join("data.bin")).ok()
}

/// Plan, run, roll back, run again and purge `class` on every node; returns
/// the copies purged. `class_copies` is how many healthy copies of the class
/// the swarm holds before.
fn cycle(
    s: &Swarm,
    class: &str,
    class_copies: u64,
    keep: &HashSet<String>,
    after_rollback: &dyn Fn(),
) -> u64 {
    let plans = each(s, &["prune", "plan", "--class", class, "--json"]);
    let planned: u64 = plans
        .iter()
        .map(|p| p["entries"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(planned, class_copies, "{class}: every copy planned");
    let run = |what: &str| -> Vec<String> {
        let mut ids = Vec::new();
        let mut quarantined = 0;
        for n in &s.nodes {
            let job = n
                .run(&s.env, &["prune", "run", "--class", class, "--json"])
                .ok()
                .json();
            quarantined += job["quarantined"].as_u64().unwrap();
            ids.push(job["id"].as_u64().unwrap().to_string());
            keep_safe(s, keep, &format!("{class} {what} on {}", n.name));
        }
        assert_eq!(quarantined, class_copies, "{class} {what}");
        assert!(
            census(s).values().all(|v| v.1 != class),
            "{class} {what}: no copy of the class left in service"
        );
        ids
    };
    let first = run("first run");
    let mut restored = 0;
    for (n, id) in s.nodes.iter().zip(&first) {
        let back = n
            .run(&s.env, &["prune", "rollback", id, "--json"])
            .ok()
            .json();
        restored += back["restored"].as_u64().unwrap();
        assert_eq!(back["state"], "rolled-back", "{back}");
    }
    assert_eq!(restored, class_copies, "{class}: every copy rolled back");
    let back: u64 = census(s)
        .values()
        .filter(|v| v.1 == class)
        .map(|v| v.0.len() as u64)
        .sum();
    assert_eq!(
        back, class_copies,
        "{class}: in service again after the rollback"
    );
    after_rollback();
    let second = run("second run");
    let mut purged = 0;
    for (n, id) in s.nodes.iter().zip(&second) {
        let p = n.run(&s.env, &["prune", "purge", id, "--json"]).ok().json();
        purged += p["purged"].as_u64().unwrap();
        keep_safe(s, keep, &format!("{class} purge on {}", n.name));
    }
    purged
}

#[test]
fn expired_and_orphaned_copies_are_pruned_across_a_live_swarm() {
    let mut s = Swarm::start(5, 5, FAST);
    let (keep_id, keep_src) = backup(&s, 0, "silver", 121, 3);
    let keep: HashSet<String> = census(&s).keys().cloned().collect();
    let (old_id, old_src) = backup(&s, 0, "bronze", 122, 3);
    let with_old: HashSet<String> = census(&s).keys().cloned().collect();
    let (gone_id, _) = backup(&s, 0, "gold", 123, 3);
    let del = s.nodes[0]
        .run(&s.env, &["backup", "delete", &gone_id, "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(del["unreleased"], 0, "{del}");

    // 100 days on, on every node (the bootstrap node first).
    let mut args = FAST.to_vec();
    args.extend(["--clock-offset", "100d"]);
    for i in 0..5 {
        s.stop(i);
        s.restart(i, &args);
        if i == 0 {
            s.boot = s.nodes[0].addr(&s.env);
        }
    }
    s.converge();
    let c = census(&s);
    let copies_of = |state: &str| -> u64 {
        c.values()
            .filter(|v| v.1 == state)
            .map(|v| v.0.len() as u64)
            .sum()
    };
    for (id, (_, state)) in &c {
        let want = if keep.contains(id) {
            "live"
        } else if with_old.contains(id) {
            "expired"
        } else {
            "orphaned"
        };
        assert_eq!(state, want, "shard {id}");
    }
    let (expired, orphaned) = (copies_of("expired"), copies_of("orphaned"));
    assert!(
        expired >= 8 && orphaned >= 8,
        "{expired} expired, {orphaned} orphaned copies"
    );
    assert!(
        restores(&s, &old_id, &old_src, "before"),
        "expired, not gone"
    );

    let t = std::time::Instant::now();
    let rolled_back = || {
        assert!(
            restores(&s, &old_id, &old_src, "rolled-back"),
            "the expired backup restores byte-identical after the rollback"
        )
    };
    let purged_expired = cycle(&s, "expired", expired, &keep, &rolled_back);
    assert_eq!(purged_expired, expired);
    let purged_orphaned = cycle(&s, "orphaned", orphaned, &keep, &|| ());
    assert_eq!(purged_orphaned, orphaned);
    eprintln!(
        "pruned {expired} expired and {orphaned} orphaned copies on 5 nodes (plan, run, rollback, run, purge) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let left = census(&s);
    assert!(left.keys().all(|id| keep.contains(id)), "{left:?}");
    assert!(
        !restores(&s, &old_id, &old_src, "after"),
        "the expired backup is gone"
    );
    assert!(restores(&s, &keep_id, &keep_src, "keep"));
}
