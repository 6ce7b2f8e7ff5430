//! `shardnet bench --json` prints one shape in every mode: an object naming
//! its mode, with rows of the same keys (what, bytes, MB/s, limit, share of
//! the limit, value, unit, note, ...), each limit measured in the same run;
//! a figure that is not a throughput has a value and unit instead (the churn
//! mode, which needs a swarm and a repair, prints through the same code).
//! Small sizes: this checks the shape and that every throughput is a
//! positive number, not speed.

mod common;

use common::Env;

/// Every row of every mode has the same keys.
const KEYS: [&str; 10] = [
    "what",
    "bytes",
    "mb_per_s",
    "limit",
    "share_of_limit_pct",
    "value",
    "unit",
    "peak_rss_mib",
    "cpu_s_per_gb",
    "note",
];

fn check_rows(v: &serde_json::Value, mode: &str) {
    assert_eq!(v["mode"], mode, "{v}");
    let rows = v["rows"].as_array().unwrap();
    assert!(!rows.is_empty(), "{v}");
    for r in rows {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = KEYS.to_vec();
        want.sort();
        assert_eq!(keys, want, "{r}");
        for f in ["what", "note"] {
            assert!(r[f].is_string(), "{f} in {r}");
        }
        // A throughput (its limit named), or another figure (its unit named).
        if r["limit"].is_string() {
            assert!(r["bytes"].as_u64().unwrap() > 0, "{r}");
            let (rate, share) = (
                r["mb_per_s"].as_f64().unwrap(),
                r["share_of_limit_pct"].as_f64().unwrap(),
            );
            assert!(rate >= 0.0 && share >= 0.0, "{r}");
            // Throughput rows (others, such as the audit cost, carry a note).
            let what = r["what"].as_str().unwrap();
            if ["limit", "backup", "restore", "swarm"]
                .iter()
                .any(|w| what.starts_with(w))
            {
                assert!(rate > 0.0 && share > 0.0, "{r}");
            }
        } else {
            assert!(
                r["unit"].is_string() && r["value"].as_f64().is_some(),
                "{r}"
            );
            assert!(r["mb_per_s"].is_null(), "{r}");
        }
    }
}

#[test]
fn every_mode_prints_the_same_rows() {
    let env = Env::new();
    let sybil = env.run(&["bench", "--json", "--sybil", "20"]).ok().json();
    check_rows(&sybil, "sybil");
    assert!(sybil["rows"].as_array().unwrap().len() > 1, "{sybil}");
    let work = env.path("bench");
    let dir = work.to_str().unwrap();
    let single = env
        .run(&[
            "bench",
            "--json",
            "--size",
            "8MiB",
            "--big-file",
            "0",
            "--dir",
            dir,
        ])
        .ok()
        .json();
    check_rows(&single, "single-node");
    // A restore reads from the store's disk and writes to the destination's
    // (one disk in the bench): its limit names both, next to opening's.
    let rows = single["rows"].as_array().unwrap();
    let restores: Vec<_> = rows
        .iter()
        .filter(|r| r["what"].as_str().unwrap().starts_with("restore"))
        .collect();
    assert!(!restores.is_empty(), "{single}");
    for r in restores {
        assert!(
            r["limit"].as_str().unwrap().contains("reading and writing"),
            "{r}"
        );
        assert!(r["note"].as_str().unwrap().contains("% of AES"), "{r}");
    }
    assert!(
        rows.iter().any(|r| r["what"] == "limit: disk read + write"),
        "{single}"
    );
    let swarm = env
        .run(&[
            "bench", "--json", "--swarm", "3", "--size", "8MiB", "--dir", dir,
        ])
        .ok()
        .json();
    check_rows(&swarm, "swarm");
    let rows = swarm["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["limit"] == "request-response / 3 copies"),
        "{swarm}"
    );
}
