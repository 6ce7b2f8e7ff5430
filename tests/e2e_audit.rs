//! End-to-end: the audit trail of a real node process. A backup, then
//! operator actions (rebalance pause and resume, scrub pause, drain) are all
//! in `audit log`, filters select them, and `audit verify` finds the chain
//! intact, through the running node and from the store after it stopped.
//! (Tampering is detected in the store's unit tests, which can edit the
//! database underneath.)

mod common;

use common::{random_bytes, Env, NodeProc};

fn actions(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn operator_actions_are_logged_filtered_and_chained() {
    let env = Env::new();
    let mut node = NodeProc::start(&env, "solo", "z", None, &[]);
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.bin"), random_bytes(7, 3 << 20)).unwrap();
    node.run(&env, &["backup", "create", src.to_str().unwrap()])
        .ok();
    for args in [
        &["rebalance", "pause"][..],
        &["rebalance", "resume"],
        &["scrub", "pause"],
        &["node", "drain", "--no-wait"],
    ] {
        node.run(&env, args).ok();
    }

    let all = node.run(&env, &["audit", "log", "--json"]).ok().json();
    let got = actions(&all);
    for want in [
        "node-started",
        "stored",
        "backup-added",
        "rebalance-paused",
        "rebalance-resumed",
        "scrub-paused",
        "drain-started",
    ] {
        assert!(got.iter().any(|a| a == want), "{want} missing: {got:?}");
    }
    let seqs: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let stored = node
        .run(&env, &["audit", "log", "--action", "stored", "--json"])
        .ok()
        .json();
    assert!(actions(&stored).iter().all(|a| a == "stored"));
    assert!(actions(&stored).len() >= 3);
    let last2 = node
        .run(&env, &["audit", "log", "--limit", "2", "--json"])
        .ok()
        .json();
    assert_eq!(actions(&last2), ["scrub-paused", "drain-started"]);
    let future = node
        .run(
            &env,
            &["audit", "log", "--since", "2999-01-01T00:00:00Z", "--json"],
        )
        .ok()
        .json();
    assert!(future.as_array().unwrap().is_empty());
    let bad = node.run(&env, &["audit", "log", "--action", "nope"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("peer-isolated"), "{}", bad.stderr);

    let v = node.run(&env, &["audit", "verify", "--json"]).ok().json();
    assert_eq!(v["broken"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["gaps"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["events"].as_u64().unwrap(), seqs.len() as u64);
    let head = v["head_hash"].as_str().unwrap().to_string();

    // From the store, with the node stopped: the same chain and head.
    assert_eq!(node.terminate(), Some(0));
    let human = node.run(&env, &["audit", "verify"]).ok().stdout;
    assert!(human.contains("chain intact"), "{human}");
    assert!(human.contains(&head), "{human}");

    // Two days later with a one-day retention: the trim at start removes
    // every earlier event and says so; what is left still verifies.
    let node = NodeProc::start(
        &env,
        "solo",
        "z",
        None,
        &["--clock-offset", "2d", "--audit-retention", "1d"],
    );
    node.wait_for(std::time::Duration::from_secs(30), "the trim", |n| {
        actions(&n.run(&env, &["audit", "log", "--json"]).ok().json())
            .contains(&"audit-trimmed".to_string())
    });
    let left = node.run(&env, &["audit", "log", "--json"]).ok().json();
    let first = left.as_array().unwrap()[0]["seq"].as_u64().unwrap();
    assert!(first > *seqs.last().unwrap(), "{left}");
    let v = node.run(&env, &["audit", "verify", "--json"]).ok().json();
    assert!(v["broken"].as_array().unwrap().is_empty(), "{v}");
}
