//! End-to-end: pruning expired copies on a real node process. A bronze
//! backup (90 days) and a silver one (1 year); the node restarts 100 days
//! ahead (`--clock-offset`). `prune plan` lists exactly bronze's copies as
//! expired, a dry run changes nothing, an edited plan is refused, the run
//! moves them to quarantine, the rollback brings them back byte-identical
//! (re-hashed), a second run and a purge delete them, and silver still
//! restores byte-identical. Jobs and the audit log say what happened.

mod common;

use common::{Env, NodeProc};
use serde_json::Value;
use std::collections::HashMap;

/// Shard id → (state, copies its leases ask for).
fn shards(env: &Env, n: &NodeProc) -> HashMap<String, (String, u64)> {
    let rows = n.run(env, &["shards", "list", "--json"]).ok().json();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let copies = r["leases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["copies"].as_u64().unwrap())
                .max()
                .unwrap_or(0);
            (
                r["id"].as_str().unwrap().to_string(),
                (r["state"].as_str().unwrap().to_string(), copies),
            )
        })
        .collect()
}

fn bronze_states(env: &Env, n: &NodeProc) -> Vec<String> {
    shards(env, n)
        .into_values()
        .filter(|(_, c)| *c == 2)
        .map(|(s, _)| s)
        .collect()
}

#[test]
fn expired_copies_are_planned_quarantined_rolled_back_and_purged() {
    let env = Env::new();
    let mut node = NodeProc::start(&env, "solo", "z", None, &[]);
    node.backup_random(&env, "bronze", 71, 3);
    let (silver, silver_src) = node.backup_random(&env, "silver", 72, 3);
    let before = shards(&env, &node);
    let bronze = before.values().filter(|(_, c)| *c == 2).count();
    let silvers = before.values().filter(|(_, c)| *c == 3).count();
    assert!(bronze >= 3 && silvers >= 3, "{before:?}");
    let plan0 = node.run(&env, &["prune", "plan", "--json"]).ok().json();
    assert!(plan0["entries"].as_array().unwrap().is_empty(), "{plan0}");

    assert_eq!(node.terminate(), Some(0));
    let node = NodeProc::start(&env, "solo", "z", None, &["--clock-offset", "100d"]);

    // Expired backups are listed only with --all.
    let ids = |args: &[&str]| -> Vec<String> {
        node.run(&env, args)
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&["backup", "list", "--json"]),
        std::slice::from_ref(&silver)
    );
    assert_eq!(ids(&["backup", "list", "--all", "--json"]).len(), 2);

    let plan_file = env.path("plan.json");
    let plan: Value = node
        .run(
            &env,
            &[
                "prune",
                "plan",
                "--class",
                "expired",
                "--out",
                plan_file.to_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    let entries = plan["entries"].as_array().unwrap();
    assert_eq!(entries.len(), bronze, "{plan}");
    assert!(entries.iter().all(|e| e["class"] == "expired"));
    assert!(entries
        .iter()
        .all(|e| before[e["shard"].as_str().unwrap()].1 == 2));

    let dry = node
        .run(
            &env,
            &["prune", "run", "--class", "expired", "--dry-run", "--json"],
        )
        .ok()
        .json();
    assert_eq!(dry["quarantined"].as_u64().unwrap() as usize, bronze);
    assert!(bronze_states(&env, &node).iter().all(|s| s == "Healthy"));

    // A plan edited after it was written is refused.
    let mut edited = plan.clone();
    edited["entries"].as_array_mut().unwrap().pop();
    let edited_file = env.path("edited.json");
    std::fs::write(&edited_file, serde_json::to_vec(&edited).unwrap()).unwrap();
    let r = node.run(
        &env,
        &["prune", "run", "--plan", edited_file.to_str().unwrap()],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("edited"), "{}", r.stderr);

    let job = node
        .run(
            &env,
            &[
                "prune",
                "run",
                "--plan",
                plan_file.to_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(
        job["quarantined"].as_u64().unwrap() as usize,
        bronze,
        "{job}"
    );
    let first = job["id"].as_u64().unwrap().to_string();
    assert!(bronze_states(&env, &node)
        .iter()
        .all(|s| s == "Quarantined"));

    let back = node
        .run(&env, &["prune", "rollback", &first, "--json"])
        .ok()
        .json();
    assert_eq!(
        back["restored"].as_u64().unwrap() as usize,
        bronze,
        "{back}"
    );
    assert_eq!(back["state"], "rolled-back");
    assert!(bronze_states(&env, &node).iter().all(|s| s == "Healthy"));
    let r = node.run(&env, &["prune", "purge", &first]);
    assert_ne!(r.code, 0, "a rolled-back job cannot be purged");

    let job2 = node
        .run(&env, &["prune", "run", "--class", "expired", "--json"])
        .ok()
        .json();
    let second = job2["id"].as_u64().unwrap().to_string();
    assert_ne!(second, first);
    let purged = node
        .run(&env, &["prune", "purge", &second, "--json"])
        .ok()
        .json();
    assert_eq!(
        purged["purged"].as_u64().unwrap() as usize,
        bronze,
        "{purged}"
    );
    let after = shards(&env, &node);
    assert_eq!(
        after.len(),
        silvers,
        "only silver's copies are left: {after:?}"
    );
    assert!(after.values().all(|(s, c)| s == "Healthy" && *c == 3));

    let jobs = node.run(&env, &["prune", "jobs", "--json"]).ok().json();
    let states: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["rolled-back", "purged"]);
    let log = node
        .run(&env, &["audit", "log", "--action", "purged", "--json"])
        .ok()
        .json();
    assert_eq!(log.as_array().unwrap().len(), bronze);
    let v = node.run(&env, &["audit", "verify", "--json"]).ok().json();
    assert!(v["broken"].as_array().unwrap().is_empty(), "{v}");

    let out = env.path("restored");
    node.run(&env, &["backup", "restore", &silver, out.to_str().unwrap()])
        .ok();
    let name = silver_src.file_name().unwrap();
    assert_eq!(
        std::fs::read(out.join(name).join("data.bin")).unwrap(),
        std::fs::read(silver_src.join("data.bin")).unwrap()
    );
}
