//! End-to-end: emergency reclaim on a real node process. A bronze backup
//! (90 days) and a silver one (1 year) on one node; 100 days later bronze is
//! expired. `prune plan --reclaim` previews the reclaim (expired copies,
//! largest first, just enough); then the node restarts with a capacity its
//! store fills to 97%: it raises an alert, plans, runs and purges a reclaim
//! by itself down to the 90% target (no further), and the alert clears.
//! Silver is untouched and verifies in full.

mod common;

use common::{Env, NodeProc};
use std::time::{Duration, Instant};

const ARGS: &[&str] = &["--scan-interval", "2", "--clock-offset", "100d"];

#[test]
fn a_node_over_its_threshold_reclaims_by_itself_and_the_alert_clears() {
    let env = Env::new();
    let mut node = NodeProc::start(&env, "solo", "z", None, &["--scan-interval", "2"]);
    node.backup_random(&env, "bronze", 91, 6);
    let (silver, _) = node.backup_random(&env, "silver", 92, 3);
    assert_eq!(node.terminate(), Some(0));

    let mut node = NodeProc::start(&env, "solo", "z", None, ARGS);
    let used = node.status(&env).unwrap()["used"].as_u64().unwrap();
    let plan = node
        .run(&env, &["prune", "plan", "--reclaim", "1MiB", "--json"])
        .ok()
        .json();
    let entries = plan["entries"].as_array().unwrap();
    let bytes: Vec<u64> = entries
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap())
        .collect();
    let total: u64 = bytes.iter().sum();
    assert!(!entries.is_empty() && total >= 1 << 20, "{plan}");
    assert!(
        total - bytes.last().unwrap() < 1 << 20,
        "more than needed: {plan}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["class"] == "expired" && e["tier"] == "Bronze"),
        "{plan}"
    );
    let all = node.run(&env, &["prune", "plan", "--json"]).ok().json();
    let expired = all["entries"].as_array().unwrap().len();
    assert!(
        entries.len() < expired,
        "the preview takes only what it needs"
    );
    assert_eq!(node.terminate(), Some(0));

    // The store fills 97% of the new capacity.
    let capacity = used * 100 / 97;
    let cap = capacity.to_string();
    let mut args = ARGS.to_vec();
    args.extend(["--capacity", &cap]);
    let node = NodeProc::start(&env, "solo", "z", None, &args);
    let t = Instant::now();
    let mut seen = false;
    loop {
        let s = node.status(&env).unwrap();
        let alerts = s["alerts"].as_array().unwrap();
        let used_now = s["used"].as_u64().unwrap();
        if let Some(a) = alerts.first() {
            assert!(
                a["message"].as_str().unwrap().contains("emergency reclaim"),
                "{a}"
            );
            seen = true;
        } else if seen {
            assert!(
                (used_now as f64) <= capacity as f64 * 0.90,
                "alert cleared at {used_now} of {capacity}"
            );
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no reclaim: seen={seen}, used {used_now} of {capacity}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("reclaimed and cleared in {:?}", t.elapsed());
    let jobs = node.run(&env, &["prune", "jobs", "--json"]).ok().json();
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!(job["state"], "purged", "{jobs}");
    assert!(node.log_text().contains("emergency reclaim"));
    // Only what was needed went: the other expired copies are still there.
    let purged = job["purged"].as_u64().unwrap() as usize;
    assert!(purged >= 1 && purged < expired, "{job}");
    let shards = node.run(&env, &["shards", "list", "--json"]).ok().json();
    let left = shards
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["retention"] == "expired")
        .count();
    assert_eq!(left, expired - purged);
    node.run(&env, &["backup", "verify", &silver, "--full"])
        .ok();
}
