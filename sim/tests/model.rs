//! Model mode: determinism, and the two contrasts the shipped scenarios exist
//! to show (tiers under loss; zone-aware against plain XOR placement).

use shardnet_sim::{model, Report, Scenario};
use std::path::PathBuf;

fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
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
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
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
