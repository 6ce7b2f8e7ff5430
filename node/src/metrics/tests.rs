//! The shipped alert rules and dashboard name only metrics a node
//! exports, and are well formed (CI also runs `promtool check rules`
//! when it can install it: scripts/check-contrib.sh).
use super::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    hold: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn contrib(path: &str) -> String {
    let p = format!("{}/../contrib/{path}", manifest_dir());
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Metric names in a PromQL expression (ours and libp2p's).
pub(crate) fn names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("shardnet_") || t.starts_with("libp2p_"))
        .map(str::to_string)
        .collect()
}

/// Whether a scrape can show `name`: ours always are; libp2p's label
/// families only once an event was recorded, so here only their
/// recorders' prefixes are checked (tests/e2e_metrics.rs checks every
/// name against a live swarm's scrape).
fn known(have: &BTreeSet<String>, name: &str) -> bool {
    have.contains(name)
        || [
            "libp2p_swarm_",
            "libp2p_kad_",
            "libp2p_gossipsub_",
            "libp2p_identify_",
            "libp2p_ping_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

fn balanced(expr: &str) -> bool {
    let mut depth = Vec::new();
    for c in expr.chars() {
        match c {
            '(' | '[' | '{' => depth.push(c),
            ')' | ']' | '}' => {
                let open = depth.pop();
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open != Some(want) {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth.is_empty()
}

/// Every name a scrape can show: sample names, and each family's name
/// with the suffixes its type adds (families with no sample yet too).
fn exported() -> BTreeSet<String> {
    let m = Metrics::new();
    *m.node.snapshot.lock().unwrap() = Snapshot {
        stored: vec![("healthy".into(), "silver".into(), 3, 3 << 20)],
        coverage: vec![(3, 10)],
        prune_jobs: vec![("purged".into(), 1)],
        ..Default::default()
    };
    m.swarm.request("inbound", "received");
    let text = m.encode().unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let base = rest.split(' ').next().unwrap();
            for suffix in [
                "", "_total", "_bucket", "_sum", "_count", "_created", "_info",
            ] {
                out.insert(format!("{base}{suffix}"));
            }
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            out.insert(name.to_string());
        }
    }
    out
}

#[test]
fn alert_rules_are_well_formed_and_name_exported_metrics() {
    let file: RuleFile = yaml_serde::from_str(&contrib("prometheus/alerts.yml")).unwrap();
    let have = exported();
    let mut rules = 0;
    for g in &file.groups {
        assert!(!g.name.is_empty());
        for r in &g.rules {
            rules += 1;
            assert!(r.alert.starts_with("Shardnet"), "{}", r.alert);
            assert!(balanced(&r.expr), "{}: unbalanced {}", r.alert, r.expr);
            let sev = r.labels.get("severity").map(String::as_str);
            assert!(matches!(sev, Some("warning" | "critical")), "{}", r.alert);
            assert!(r.annotations.contains_key("summary"), "{}", r.alert);
            if let Some(d) = &r.hold {
                assert!(humantime::parse_duration(d).is_ok(), "{}: for {d}", r.alert);
            }
            let used = names(&r.expr);
            assert!(!used.is_empty(), "{}", r.alert);
            for n in used {
                assert!(known(&have, &n), "{}: {n} is not exported", r.alert);
            }
        }
    }
    assert!(rules >= 10);
}

#[test]
fn the_dashboard_names_exported_metrics_only() {
    let d: serde_json::Value = serde_json::from_str(&contrib("grafana/shardnet.json")).unwrap();
    let have = exported();
    let panels = d["panels"].as_array().unwrap();
    assert!(panels.len() >= 15);
    for p in panels {
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let e = t["expr"].as_str().unwrap();
            assert!(balanced(e), "{}: {e}", p["title"]);
            for n in names(e) {
                assert!(known(&have, &n), "{}: {n} is not exported", p["title"]);
            }
        }
    }
    let var = d["templating"]["list"][0]["query"].as_str().unwrap();
    assert!(names(var).iter().all(|n| have.contains(n)), "{var}");
}

#[test]
fn counters_and_units_follow_prometheus_conventions() {
    let have = exported();
    for n in [
        "shardnet_used_bytes",
        "shardnet_transfers_total",
        "shardnet_transferred_bytes_total",
        "shardnet_repair_eta_seconds",
        "shardnet_health_score",
        "shardnet_requests_total",
        "libp2p_swarm_dial_attempt_total",
    ] {
        assert!(have.contains(n), "{n} missing from {have:?}");
    }
}

/// This crate's directory: cargo's at run time, so that a test binary
/// reused from a build in another checkout (a shared target directory)
/// reads this checkout's files; the compile-time one otherwise.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
