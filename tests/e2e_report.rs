//! `report daily|weekly` on real node processes sampling every second: the
//! backups made, bytes backed up, a peer that joined, and a restart.

mod common;

use common::{Env, NodeProc};
use std::time::Duration;

#[test]
fn the_daily_report_tells_what_happened() {
    let env = Env::new();
    let fast = [("SHARDNET_SAMPLE_SECS", "1")];
    let mut a = NodeProc::start_with(&env, "a", "zone0", None, &[], &fast);
    let b = NodeProc::start_with(&env, "b", "zone1", Some(&a.addr(&env)), &[], &fast);
    a.wait_for(Duration::from_secs(30), "b live", |n| {
        n.run(&env, &["peers", "list", "--json"])
            .json()
            .as_array()
            .is_some_and(|l| l.iter().filter(|p| p["live"] == true).count() == 2)
    });
    a.backup_random(&env, "bronze", 3, 3);
    std::thread::sleep(Duration::from_secs(3));
    let r = a.run(&env, &["report", "daily", "--json"]).ok().json();
    assert!(r["samples"].as_u64().unwrap() >= 3, "{r}");
    assert_eq!(r["backups_made"], 1, "{r}");
    assert!(r["backup_bytes"].as_u64().unwrap() >= 3 << 20, "{r}");
    assert_eq!(r["peers_joined"], 1, "{r}");
    assert!(r["stored_end"].as_u64().unwrap() > 0, "{r}");
    assert!(r["events"]["backup-added"].as_u64().unwrap() >= 1, "{r}");

    // A restart is seen, and the counters of the new process add up.
    assert_eq!(a.terminate(), Some(0));
    drop(b);
    let a = NodeProc::start_with(&env, "a", "zone0", None, &[], &fast);
    std::thread::sleep(Duration::from_secs(3));
    let r = a.run(&env, &["report", "weekly", "--json"]).ok().json();
    assert_eq!(r["restarts"], 1, "{r}");
    assert_eq!(r["peers_left"], 0, "the node stopped before b did: {r}");
    let html = a.run(&env, &["report", "daily", "--html"]).ok().stdout;
    assert!(
        html.starts_with("<!doctype html>") && html.contains("backups made"),
        "{html}"
    );
    let text = a.run(&env, &["report", "daily"]).ok().stdout;
    assert!(text.contains("restarts"), "{text}");
}
