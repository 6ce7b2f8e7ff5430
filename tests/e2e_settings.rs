//! End-to-end tests of runtime settings on real node processes: `config
//! set` edits config.toml and applies it at once, SIGHUP reloads it, a bad
//! file changes nothing, flags pin their keys, a drain and the settings
//! survive a restart; maintenance windows hold back the scrub and handoff
//! (never repair); the backup bandwidth limit holds.

mod common;

use common::swarm::Swarm;
use common::{Env, NodeProc};
use std::fs;
use std::time::{Duration, Instant};

fn setting(n: &NodeProc, env: &Env, key: &str) -> serde_json::Value {
    let all = n.run(env, &["config", "get", "--json"]).ok().json();
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no {key} in {all}"))
}

fn hup(n: &NodeProc) {
    let pid = n.pid().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -HUP {pid}");
}

/// Waits until `cond` holds, at most `limit`.
fn until(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn settings_change_while_running_and_hold_across_restarts() {
    let env = Env::new();
    let data = env.path("solo");
    env.run_in(&data, &["init"]).ok();
    let file = data.join("config.toml");
    fs::write(
        &file,
        "# the operator's notes\nbandwidth_repair = \"1MB\"\n",
    )
    .unwrap();
    // No node running: the file alone, checked, for the next start.
    let r = env
        .run_in(&data, &["config", "set", "scrub_tranquility", "3"])
        .ok();
    assert!(r.stdout.contains("next start"), "{}", r.stdout);
    assert_ne!(
        env.run_in(&data, &["config", "set", "scrub_tranquility", "x"])
            .code,
        0
    );
    let r = env
        .run_in(&data, &["config", "get", "scrub_tranquility"])
        .ok();
    assert_eq!(r.stdout.trim(), "3");
    let mut n = NodeProc::start(&env, "solo", "zone0", None, &["--parallel", "3"]);
    assert_eq!(setting(&n, &env, "scrub_tranquility")["value"], "3");

    let s = setting(&n, &env, "bandwidth_repair");
    assert_eq!(
        (s["source"].as_str(), s["live"].as_bool()),
        (Some("file"), Some(true)),
        "{s}"
    );
    let before = s["value"].clone();

    // Set: the file is edited (comments kept) and the value is in force.
    let r = n
        .run(
            &env,
            &["config", "set", "bandwidth_repair", "5MB", "--json"],
        )
        .ok()
        .json();
    assert!(
        r["applied"][0]
            .as_str()
            .unwrap()
            .starts_with("bandwidth_repair"),
        "{r}"
    );
    let now = n
        .run(&env, &["config", "get", "bandwidth_repair"])
        .ok()
        .stdout;
    assert!(
        now.trim() != before.as_str().unwrap() && now.contains("/s"),
        "{now}"
    );
    let text = fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("# the operator's notes") && text.contains("5MB"),
        "{text}"
    );

    // A flag pins its key; a bad value and an unknown key change nothing.
    let r = n.run(&env, &["config", "set", "parallel", "5"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--parallel"), "{}", r.stderr);
    let r = n.run(&env, &["config", "set", "bandwidth_repair", "lots"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("bandwidth_repair"), "{}", r.stderr);
    let r = n.run(&env, &["config", "set", "no_such_key", "1"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("one of"), "{}", r.stderr);
    assert_eq!(fs::read_to_string(&file).unwrap(), text);

    // A key that needs a restart is written and reported as such.
    let r = n
        .run(&env, &["config", "set", "capacity", "2GiB", "--json"])
        .ok()
        .json();
    assert!(
        r["restart"][0].as_str().unwrap().starts_with("capacity"),
        "{r}"
    );
    let s = setting(&n, &env, "capacity");
    assert!(s["pending"].as_str().unwrap().contains("GiB"), "{s}");

    // SIGHUP reads the file as edited by hand.
    let edited =
        fs::read_to_string(&file).unwrap() + "maintenance_windows = [\"sat,sun 00:00-24:00\"]\n";
    fs::write(&file, edited).unwrap();
    hup(&n);
    until(Duration::from_secs(10), "the reload", || {
        setting(&n, &env, "maintenance_windows")["value"] == "sat,sun 00:00-24:00"
    });
    // A file that fails its checks leaves the settings in force.
    let good = fs::read_to_string(&file).unwrap();
    fs::write(&file, good.replace("5MB", "five")).unwrap();
    hup(&n);
    until(Duration::from_secs(10), "the refusal in the log", || {
        n.log_text().contains("config.toml not reloaded")
    });
    assert!(setting(&n, &env, "bandwidth_repair")["value"] == now.trim());
    let r = n.run(&env, &["config", "reload"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("bandwidth_repair"), "{}", r.stderr);
    fs::write(&file, &good).unwrap();

    // A drain and the settings hold across a restart, until cancelled.
    n.run(&env, &["node", "drain", "--no-wait"]).ok();
    assert_eq!(n.terminate(), Some(0));
    let mut n = NodeProc::start(&env, "solo", "zone0", None, &[]);
    assert_eq!(n.status(&env).unwrap()["draining"], true);
    assert!(n.log_text().contains("the drain goes on"));
    assert_eq!(setting(&n, &env, "bandwidth_repair")["value"], now.trim());
    let cap = setting(&n, &env, "capacity")["value"].to_string();
    assert!(cap.contains("2") && cap.contains("GiB"), "{cap}");
    n.run(&env, &["node", "drain", "--cancel"]).ok();
    assert_eq!(n.status(&env).unwrap()["draining"], false);
    assert_eq!(n.terminate(), Some(0));
    let n = NodeProc::start(&env, "solo", "zone0", None, &[]);
    assert_eq!(n.status(&env).unwrap()["draining"], false);
    let log = n
        .run(
            &env,
            &["audit", "log", "--action", "config-changed", "--json"],
        )
        .ok()
        .json();
    assert!(log.as_array().unwrap().len() >= 2, "{log}");
}

/// A window that is closed now: it opens two hours from now, for an hour.
fn closed_window() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let h = (now / 3600 + 2) % 24;
    format!("daily {:02}:00-{:02}:00", h, (h + 1) % 24)
}

#[test]
fn maintenance_windows_hold_back_the_scrub_and_handoff() {
    let env = Env::new();
    let data = env.path("solo");
    env.run_in(&data, &["init"]).ok();
    let window = closed_window();
    fs::write(
        data.join("config.toml"),
        format!("maintenance_windows = [\"{window}\"]\n"),
    )
    .unwrap();
    let args = ["--scrub-period", "14s", "--scrub-tranquility", "0"];
    let n = NodeProc::start(&env, "solo", "zone0", None, &args);
    n.backup_random(&env, "bronze", 5, 3);

    // Closed: a started pass reads nothing, and handoff says it waits.
    let st = n.run(&env, &["scrub", "start", "--json"]).ok().json();
    assert!(st["waits_until"].as_u64().is_some(), "{st}");
    std::thread::sleep(Duration::from_secs(3));
    let st = n.run(&env, &["scrub", "status", "--json"]).ok().json();
    assert_eq!(st["shards_checked"], 0, "{st}");
    let human = n.run(&env, &["scrub", "status"]).ok().stdout;
    assert!(human.contains("outside the maintenance windows"), "{human}");
    let rb = n.run(&env, &["rebalance", "status", "--json"]).ok().json();
    assert!(rb["handoff_waits_until"].as_u64().is_some(), "{rb}");

    // Open: the pass runs at once.
    n.run(
        &env,
        &["config", "set", "maintenance_windows", "daily 00:00-24:00"],
    )
    .ok();
    until(Duration::from_secs(30), "a scrub pass", || {
        let st = n.run(&env, &["scrub", "status", "--json"]).ok().json();
        st["passes"].as_u64().unwrap() >= 1
    });
    let rb = n.run(&env, &["rebalance", "status", "--json"]).ok().json();
    assert!(rb["handoff_waits_until"].is_null(), "{rb}");
    // No windows at all: always open.
    n.run(&env, &["config", "unset", "maintenance_windows"])
        .ok();
    assert_eq!(
        n.run(&env, &["config", "get", "maintenance_windows"])
            .ok()
            .stdout
            .trim(),
        "always"
    );
}

#[test]
fn the_backup_bandwidth_limit_holds() {
    let s = Swarm::start(3, 3, &[]);
    let n = &s.nodes[0];
    n.run(&s.env, &["config", "set", "bandwidth_backup", "2MB"])
        .ok();
    let t = Instant::now();
    n.backup_random(&s.env, "bronze", 9, 6);
    let limited = t.elapsed();
    // Two copies of 6 MiB on three nodes: at least one copy of each shard
    // leaves this node, 6.3 MB at 2 MB/s.
    assert!(limited >= Duration::from_millis(2800), "{limited:?}");
    n.run(&s.env, &["config", "unset", "bandwidth_backup"]).ok();
    let t = Instant::now();
    n.backup_random(&s.env, "bronze", 10, 6);
    eprintln!(
        "6 MiB bronze backup: {limited:?} at 2 MB/s, {:?} unlimited",
        t.elapsed()
    );
}
