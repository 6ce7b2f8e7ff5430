//! The `shardnet-sim` command line: reports on stdout and on disk, clear errors.

use std::path::PathBuf;
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shardnet-sim"))
}

fn scenarios() -> PathBuf {
    PathBuf::from(manifest_dir()).join("scenarios")
}

#[test]
fn run_prints_json_and_writes_report_and_plot() {
    let out = tempfile::tempdir().unwrap();
    let o = sim()
        .args(["run", "--json", "--seed", "4", "--out"])
        .arg(out.path())
        .arg(scenarios().join("zone-outage.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // compare_zone_blind: both placements.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["placement"], "zone-aware");
    assert_eq!(v[1]["placement"], "plain XOR");
    assert_eq!(v[0]["seed"], 4);
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".svg")).count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".json")).count(),
        2,
        "{names:?}"
    );
}

#[test]
fn bad_scenarios_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\nduration = \"1h\"\n[swarm]\nnodes = 0\ncapacity = \"1GiB\"\n",
    )
    .unwrap();
    let o = sim().arg("run").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("swarm.nodes"),
        "{err}"
    );
    let o = sim()
        .args(["run", "/nonexistent/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read scenario"));
    // Random churn is model-only: live mode says so instead of ignoring it.
    let o = sim()
        .args(["run", "--mode", "live"])
        .arg(scenarios().join("tiers.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only model mode runs"));
}

/// This crate's directory: cargo's at run time, so that a test binary
/// reused from a build in another checkout (a shared target directory)
/// reads this checkout's files; the compile-time one otherwise.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
}
