//! Model mode: determinism, and the two contrasts the shipped scenarios exist
//! to show (tiers under loss; zone-aware against plain XOR placement; lazy
//! against eager repair under transient churn).

use shardnet_sim::{model, Report, Scenario};
use std::path::PathBuf;

fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(manifest_dir()).join("scenarios").join(name);
    Scenario::load(&p).unwrap()
}

/// The report without the wall-clock figures.
fn outcome(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v["wall_secs"] = 0.into();
    v["node_days_per_sec"] = 0.into();
    v
}

#[test]
fn every_shipped_scenario_parses() {
    let dir = PathBuf::from(manifest_dir()).join("scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            Scenario::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 5);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let sc = scenario("tiers.toml");
    let a = model::run(&sc, 11, true, None);
    let b = model::run(&sc, 11, true, None);
    assert_eq!(outcome(&a), outcome(&b));
    let c = model::run(&sc, 12, true, None);
    assert_ne!(outcome(&a)["series"], outcome(&c)["series"]);
    assert!(
        a.events > 1000,
        "the run did something: {} events",
        a.events
    );
}

#[test]
fn a_lower_tier_loses_data_where_a_higher_tier_does_not() {
    let sc = scenario("tiers.toml");
    let r = model::run(&sc, sc.seed, true, None);
    let tier = |name: &str| r.tiers.iter().find(|t| t.tier == name).unwrap().clone();
    assert!(tier("bronze").backups_lost > 0, "{}", r.table());
    assert_eq!(tier("gold").shards_lost, 0, "{}", r.table());
    assert!(r.repair_bytes > 0);
}

#[test]
fn zone_aware_placement_survives_a_zone_outage_plain_xor_does_not() {
    let sc = scenario("zone-outage.toml");
    let aware = model::run(&sc, sc.seed, true, None);
    let blind = model::run(&sc, sc.seed, false, None);
    assert_eq!(aware.min_availability, 1.0, "{}", aware.table());
    assert_eq!(aware.restores_ok, aware.restores_attempted);
    assert!(blind.min_availability < 0.9, "{}", blind.table());
    assert!(blind.restores_ok < blind.restores_attempted);
    // Nothing is lost either way: the zone comes back with its disks.
    assert_eq!(blind.series.last().unwrap().shards_lost, 0);
    // Once the zone is back, every backup is restorable again.
    assert_eq!(blind.series.last().unwrap().availability, 1.0);
}

#[test]
fn report_files_are_written() {
    let sc = scenario("zone-outage.toml");
    let r = model::run(&sc, 1, true, None);
    let dir = tempfile::tempdir().unwrap();
    let (json, svg) = r.write(&dir.path().join("r")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(v["scenario"], "zone outage");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.trim_end().ends_with("</svg>")
    );
}

#[test]
fn liars_joining_a_swarm_are_isolated_within_hours_and_nothing_is_lost() {
    let sc = scenario("liars.toml");
    let r = model::run(&sc, sc.seed, true, None);
    assert_eq!(r.liars, 50, "{}", r.table());
    assert_eq!(r.liars_isolated, r.liars, "{}", r.table());
    // A new copy's first audit comes after a 24th of the 3-day interval
    // (±25%): a liar with many copies fails 6 of them within hours.
    assert!(r.isolation_hours_max <= 24.0, "{}", r.table());
    assert!(r.audit_failures >= 6 * r.liars, "{}", r.table());
    for t in &r.tiers {
        assert_eq!(t.shards_lost, 0, "{} lost shards: {}", t.tier, r.table());
    }
    assert!(r.audit_read_bytes > 0);
    eprintln!("{}", r.table());
}

#[test]
fn liars_there_from_the_first_write_lose_only_what_they_alone_held() {
    let sc = scenario("liars-at-start.toml");
    let r = model::run(&sc, sc.seed, true, None);
    assert_eq!(r.liars, 50, "{}", r.table());
    assert_eq!(r.liars_isolated, r.liars, "{}", r.table());
    // What is lost is exactly what was placed on liars alone (a receipt
    // proof cannot tell a liar that keeps bytes for a minute): about f^k of
    // the shards, none at gold. Nothing else is lost.
    let lost: u64 = r.tiers.iter().map(|t| t.shards_lost).sum();
    assert_eq!(lost, r.shards_placed_only_on_liars, "{}", r.table());
    let gold = r.tiers.iter().find(|t| t.tier == "gold").unwrap();
    assert_eq!(gold.shards_lost, 0, "{}", r.table());
    eprintln!("{}", r.table());
}

#[test]
fn trusted_nodes_from_the_start_leave_liars_nothing_to_lose() {
    let sc = scenario("liars-at-start-anchored.toml");
    let r = model::run(&sc, sc.seed, true, None);
    assert_eq!(r.liars, 50, "{}", r.table());
    assert_eq!(r.liars_isolated, r.liars, "{}", r.table());
    // The same swarm without anchors loses what liars alone held; with 10
    // trusted nodes every shard had an honest copy from the first write.
    assert_eq!(r.shards_placed_only_on_liars, 0, "{}", r.table());
    assert!(r.trusted_floor_copies > 0, "{}", r.table());
    let lost: u64 = r.tiers.iter().map(|t| t.shards_lost).sum();
    assert_eq!(lost, 0, "{}", r.table());
    eprintln!("{}", r.table());
}

#[test]
fn lazy_repair_copies_next_to_nothing_for_outages_and_a_dark_zone_and_loses_nothing() {
    let sc = scenario("patience.toml");
    let lazy = model::run(&sc, sc.seed, true, None);
    let mut e = sc.clone();
    e.swarm.policy = shardnet_sim::scenario::Policy::Eager;
    let eager = model::run(&e, sc.seed, true, None);
    for r in [&lazy, &eager] {
        assert_eq!(r.series.last().unwrap().shards_lost, 0, "{}", r.table());
        assert_eq!(r.restores_ok, r.restores_attempted, "{}", r.table());
    }
    assert_eq!(
        (lazy.policy.as_str(), eager.policy.as_str()),
        ("lazy", "eager")
    );
    // The eager policy re-copies the dark zone (a sixth of the copies) and
    // every holder silent past an hour; the lazy one waits for them.
    assert!(
        eager.repair_bytes > lazy.repair_bytes.saturating_mul(10),
        "lazy {} vs eager {}\n{}\n{}",
        lazy.repair_bytes,
        eager.repair_bytes,
        lazy.table(),
        eager.table()
    );
    assert!(eager.repair_share_per_month > 0.3, "{}", eager.table());
}

#[test]
fn erasure_coding_stores_fewer_bytes_rebuilds_in_batches_and_loses_nothing_more() {
    // redundancy.toml at a fifth of its size and half its length.
    let mut sc = scenario("redundancy.toml");
    sc.swarm.nodes = 200;
    sc.churn.joins_per_day /= 5.0;
    sc.duration = std::time::Duration::from_secs(30 * 86_400);
    for b in &mut sc.backups {
        b.count /= 5;
    }
    for e in &mut sc.events {
        e.at = std::time::Duration::from_secs(29 * 86_400);
    }
    let copies = model::run(&sc, sc.seed, true, None);
    sc.swarm.redundancy = sc.swarm.other_redundancy();
    let pieces = model::run(&sc, sc.seed, true, None);
    let rs: Vec<String> = pieces.tiers.iter().map(|t| t.scheme.clone()).collect();
    assert!(rs.iter().all(|s| s.starts_with("rs 4+")), "{rs:?}");
    for r in [&copies, &pieces] {
        let silver_up = r.tiers.iter().filter(|t| t.tier != "bronze");
        assert_eq!(
            silver_up.map(|t| t.backups_lost).sum::<u64>(),
            0,
            "{}",
            r.table()
        );
        assert!(r.restores_attempted > 0, "{}", r.table());
    }
    assert_eq!(
        pieces.restores_ok,
        pieces.restores_attempted,
        "{}",
        pieces.table()
    );
    // Same logical data; pieces cost (K+M)/K, copies cost N.
    assert_eq!(copies.logical_bytes, pieces.logical_bytes);
    assert!(
        pieces.storage_overhead < 0.7 * copies.storage_overhead,
        "{}\n{}",
        copies.table(),
        pieces.table()
    );
    // Rebuilding reads K pieces, but only below the repair threshold and
    // then for every missing piece at once (`Scheme::verdict`): one piece
    // rebuilt at a time, as each holder's wait ended, moved 2x the bytes of
    // copying; batches move less than copying does.
    assert!(
        pieces.repair_bytes < copies.repair_bytes,
        "{}\n{}",
        copies.table(),
        pieces.table()
    );
    let per_node: u64 = pieces.repair_bytes_by_node.iter().sum();
    assert_eq!(
        per_node, pieces.repair_bytes,
        "every byte moved has a sender"
    );
    eprintln!("{}\n{}", copies.table(), pieces.table());
}

/// This crate's directory: cargo's at run time, so that a test binary
/// reused from a build in another checkout (a shared target directory)
/// reads this checkout's files; the compile-time one otherwise.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
