//! Live mode on real nodes in this process (libp2p on 127.0.0.1, RocksDB in a
//! temp dir): a crash is repaired, a restore is byte-identical, and the model,
//! started from the same layout, agrees on data movement and final placement.

use shardnet_sim::{compare, Scenario};
use std::sync::Mutex;

/// One live swarm at a time: two in parallel on 2 cores slow repair enough to
/// blur what the tests measure.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SCENARIO: &str = r#"
name = "live crash and repair"
mode = "live"
duration = "16s"
seed = 9
sample_every = "1s"

[swarm]
nodes = 6
zones = 3
capacity = "1GiB"
bandwidth = "100MB/s"
down_after = "2s"

[[backups]]
tier = "silver"
size = "12MiB"

[[backups]]
tier = "gold"
size = "4MiB"

[[events]]
at = "1s"
kind = "crash"
nodes = [2]

[[events]]
at = "14s"
kind = "restore"
"#;

#[test]
fn a_crash_is_repaired_restores_match_and_the_model_agrees() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let sc = Scenario::parse(SCENARIO, "live-test.toml").unwrap();
    let work = tempfile::tempdir().unwrap();
    let c = compare::run(&sc, sc.seed, work.path()).unwrap();
    let live = &c.live;
    let end = live.series.last().unwrap();
    assert_eq!(live.crashes, 1);
    assert_eq!(live.nodes_end, 5);
    assert!(
        live.series.iter().any(|s| s.shards_below_target > 0),
        "the crash took copies away: {:?}",
        live.series
    );
    assert_eq!(end.shards_below_target, 0, "repaired: {}", live.table());
    assert_eq!(end.shards_lost, 0);
    assert!(live.repair_bytes > 0);
    assert_eq!(live.restores_attempted, 2);
    assert_eq!(live.restores_ok, 2, "{}", live.table());
    assert!(c.agrees, "{}", c.table());
    // The crashed node's data dir is gone (its disk was lost).
    assert!(
        !work.path().join("node2").exists(),
        "{:?}",
        std::fs::read_dir(work.path().join("node2"))
            .map(|d| d
                .flatten()
                .map(|e| e.path().display().to_string())
                .collect::<Vec<_>>())
            .unwrap_or_default()
    );
}

#[test]
fn every_scripted_event_runs_on_real_nodes_and_the_model_agrees() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let path = std::path::Path::new(&manifest_dir()).join("scenarios/live-events.toml");
    let sc = Scenario::load(&path).unwrap();
    let work = tempfile::tempdir().unwrap();
    let c = compare::run(&sc, sc.seed, work.path()).unwrap();
    let live = &c.live;
    let end = live.series.last().unwrap();
    // The corrupt event hits up to 3 of the shards node 1 holds (placement
    // decides how many it has); both modes corrupt the same number.
    assert!(live.corruptions >= 1, "{}", live.table());
    assert_eq!(live.corruptions, c.model.corruptions);
    assert_eq!(
        (live.zone_outages, live.joins, live.graceful_departures),
        (1, 2, 2),
        "{}",
        live.table()
    );
    assert_eq!(live.nodes_peak, 10);
    assert_eq!(end.shards_below_target, 0, "{}", live.table());
    assert_eq!(end.shards_lost, 0);
    assert_eq!((live.restores_ok, live.restores_attempted), (1, 1));
    assert!(c.agrees, "{}", c.table());
}

/// This crate's directory: cargo's at run time, so that a test binary
/// reused from a build in another checkout (a shared target directory)
/// reads this checkout's files; the compile-time one otherwise.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
