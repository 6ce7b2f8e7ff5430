//! End-to-end: `/metrics` and `node health` on a live 3-node swarm. Each
//! node serves Prometheus metrics (`--metrics-listen 127.0.0.1:0`); the test
//! scrapes them around a backup, a repair (a node killed) and a prune (the
//! backup deleted, its copies pruned), and checks that the values move as
//! they should. Every metric the shipped alert rules and dashboard name is
//! in some live scrape. `node health` is ok on the healthy swarm and goes
//! critical, with exit code 2, when the peers vanish and when the disk
//! fills.

mod common;

use common::swarm::{Swarm, FAST};
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// GET `path` from `addr`: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked or not, the samples are lines of text; drop chunk sizes.
    (code, body.to_string())
}

/// Sample name with labels → value.
fn scrape(addr: &str) -> HashMap<String, f64> {
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    body.lines()
        .filter(|l| !l.starts_with('#') && l.contains(' '))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Sum of the samples of `name` whose labels contain every `want`.
fn sum(m: &HashMap<String, f64>, name: &str, want: &[&str]) -> f64 {
    m.iter()
        .filter(|(k, _)| {
            let base = k.split('{').next().unwrap();
            base == name && want.iter().all(|w| k.contains(w))
        })
        .map(|(_, v)| v)
        .sum()
}

/// `sum` over several nodes' scrapes.
fn total(ms: &[HashMap<String, f64>], name: &str, want: &[&str]) -> f64 {
    ms.iter().map(|m| sum(m, name, want)).sum()
}

fn addr(s: &Swarm, i: usize) -> String {
    s.nodes[i].status(&s.env).unwrap()["metrics_listen"]
        .as_str()
        .unwrap()
        .to_string()
}

fn wait(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    t.elapsed()
}

/// Every metric name in the alert rules and the dashboard.
fn named() -> BTreeSet<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../contrib/");
    let mut text = std::fs::read_to_string(format!("{root}prometheus/alerts.yml")).unwrap();
    text += &std::fs::read_to_string(format!("{root}grafana/shardnet.json")).unwrap();
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| t.starts_with("shardnet_") || t.starts_with("libp2p_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn metrics_move_with_backup_repair_and_prune_and_health_follows() {
    let mut args = FAST.to_vec();
    args.extend(["--metrics-listen", "127.0.0.1:0"]);
    let mut s = Swarm::start(3, 3, &args);
    let addrs: Vec<String> = (0..3).map(|i| addr(&s, i)).collect();
    let before = scrape(&addrs[0]);
    assert_eq!(sum(&before, "shardnet_backup_bytes_total", &[]), 0.0);
    assert_eq!(sum(&before, "shardnet_peers_live", &[]), 2.0);
    assert!(sum(&before, "shardnet_capacity_bytes", &[]) > 0.0);

    // A backup: bytes in, copies on every node, requests answered.
    let (id, _) = s.nodes[0].backup_random(&s.env, "bronze", 141, 4);
    let after: Vec<HashMap<String, f64>> = addrs.iter().map(|a| scrape(a)).collect();
    assert_eq!(
        sum(&after[0], "shardnet_backup_bytes_total", &[]),
        (4 << 20) as f64
    );
    let copies: f64 = total(
        &after,
        "shardnet_stored_shards",
        &["state=\"healthy\"", "tier=\"bronze\""],
    );
    eprintln!("bronze copies after the backup: {copies}");
    assert!(copies >= 2.0 * 5.0, "two copies of at least 5 shards");
    let received: f64 = total(&after, "shardnet_requests_total", &["inbound", "received"]);
    assert!(received >= copies / 2.0, "{received} inbound requests");
    assert!(sum(&after[0], "libp2p_swarm_connections_established_total", &[]) >= 2.0);

    // Healthy: exit 0 once the first scans are done.
    wait("node health ok", Duration::from_secs(60), || {
        s.nodes[0].run(&s.env, &["node", "health"]).code == 0
    });
    let (code, body) = get(&addrs[0], "/health");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"level\":\"ok\""), "{body}");
    let m = scrape(&addrs[0]);
    assert_eq!(sum(&m, "shardnet_health_score", &[]), 1.0);

    // Repair: a node dies; the survivors copy its share back to 2 copies.
    let moved_before: f64 = (0..2)
        .map(|i| sum(&scrape(&addrs[i]), "shardnet_transfers_total", &[]))
        .sum();
    s.nodes[2].kill();
    let t = Instant::now();
    loop {
        let now: Vec<HashMap<String, f64>> = (0..2).map(|i| scrape(&addrs[i])).collect();
        let moved: f64 = total(&now, "shardnet_transfers_total", &[]);
        let held: f64 = total(
            &now,
            "shardnet_stored_shards",
            &["state=\"healthy\"", "tier=\"bronze\""],
        );
        let live: Vec<f64> = now
            .iter()
            .map(|m| sum(m, "shardnet_peers_live", &[]))
            .collect();
        if moved > moved_before && held >= copies && live.iter().all(|l| *l == 1.0) {
            break;
        }
        // Seen once in a full run (not again in 8 runs alone): say what
        // was missing, with the survivors' last scans and logs.
        if t.elapsed() >= Duration::from_secs(90) {
            let detail: Vec<String> = (0..2)
                .map(|i| {
                    let scan = s.nodes[i].run(&s.env, &["rebalance", "status", "--json"]);
                    let log = s.nodes[i].log_text();
                    let tail: Vec<&str> = log.lines().rev().take(15).collect();
                    format!(
                        "--- {}: {}\n{}",
                        s.nodes[i].name,
                        scan.stdout.trim(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )
                })
                .collect();
            panic!(
                "repair transfers: not within 90 s: transfers {moved} (before {moved_before}), healthy bronze copies {held} of {copies}, live peers {live:?}\n{}",
                detail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("repair seen in the metrics after {:?}", t.elapsed());
    let m = scrape(&addrs[0]);
    assert!(
        sum(&m, "shardnet_transferred_bytes_total", &[])
            + sum(&scrape(&addrs[1]), "shardnet_transferred_bytes_total", &[])
            > 0.0
    );
    // Coverage comes from each node's last scan: a survivor that held no
    // copy before the repair shows some only after its next scan (a rare
    // failure when node 0 held none: the placement follows random ids).
    wait("coverage in the metrics", Duration::from_secs(30), || {
        (0..2).any(|i| {
            sum(
                &scrape(&addrs[i]),
                "shardnet_replication_coverage_shards",
                &[],
            ) > 0.0
        })
    });

    // Prune: the backup is deleted and its copies pruned everywhere.
    s.nodes[0]
        .run(&s.env, &["backup", "delete", &id, "--yes"])
        .ok();
    for (i, a) in addrs.iter().enumerate().take(2) {
        let job = s.nodes[i]
            .run(&s.env, &["prune", "run", "--class", "orphaned", "--json"])
            .ok()
            .json();
        let job_id = job["id"].as_u64().unwrap().to_string();
        s.nodes[i].run(&s.env, &["prune", "purge", &job_id]).ok();
        let m = scrape(a);
        assert!(sum(&m, "shardnet_prune_jobs", &["state=\"purged\""]) >= 1.0);
        assert!(sum(&m, "shardnet_prune_purged_bytes_total", &[]) > 0.0);
        assert_eq!(
            sum(
                &m,
                "shardnet_stored_shards",
                &["state=\"healthy\"", "tier=\"bronze\""]
            ),
            0.0
        );
    }

    // Every name the rules and the dashboard use is in a live scrape.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for a in &addrs[..2] {
        let (_, body) = get(a, "/metrics");
        for l in body.lines() {
            let name = match l.strip_prefix("# TYPE ") {
                Some(rest) => rest.split(' ').next().unwrap(),
                None if !l.starts_with('#') => l.split(['{', ' ']).next().unwrap(),
                None => continue,
            };
            seen.insert(name.to_string());
        }
    }
    let missing: Vec<String> = named()
        .into_iter()
        .filter(|n| {
            !["", "_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|suf| {
                    n.strip_suffix(suf).is_some_and(|b| seen.contains(b))
                        || (suf.is_empty() && seen.contains(n))
                })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "named in contrib/ but not exported: {missing:?}"
    );

    // Something to hold for the disk check below.
    s.nodes[0].backup_random(&s.env, "gold", 142, 2);

    // Peers vanish: critical, exit 2.
    s.nodes[1].kill();
    wait("connectivity critical", Duration::from_secs(60), || {
        let r = s.nodes[0].run(&s.env, &["node", "health", "--json"]);
        r.code == 2
            && r.json()["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == "connectivity" && c["level"] == "critical")
    });
    let (code, _) = get(&addrs[0], "/health");
    assert_eq!(code, 503);

    // The disk fills: node 0 restarts with its store at 96% of its capacity.
    let used = s.used(0);
    assert!(used >= 2 << 20, "{used}");
    s.stop(0);
    let cap = (used * 100 / 96).to_string();
    let mut args = args.clone();
    args.extend(["--capacity", &cap]);
    s.restart(0, &args);
    let r = s.nodes[0].run(&s.env, &["node", "health", "--json"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let disk = r.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "disk")
        .unwrap()
        .clone();
    assert_eq!(disk["level"], "critical", "{disk}");
}
