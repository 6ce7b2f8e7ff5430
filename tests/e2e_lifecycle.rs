//! End-to-end: `retention tier`, `retention extend` and `retention audit` on
//! a swarm of 4 real node processes. A silver backup (3 copies) goes to gold
//! (5 copies wanted: repair puts one on each of the 4 nodes), then down to
//! bronze (the leases are replaced through owner-signed releases; repair
//! quarantines the surplus copies until 2 are left), then a year longer.
//! Every holder's lease says so, the catalogue and the audit agree, and the
//! backup still restores byte-identical on a node holding only the key.

mod common;

use common::swarm::{backup, Swarm, FAST};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Holders of a shard, and the (copies, expiry) of the leases they hold.
type Seen = (HashSet<String>, HashSet<(u64, u64)>);

/// Healthy shard id → what its holders have.
fn census(s: &Swarm) -> HashMap<String, Seen> {
    let mut m: HashMap<String, Seen> = HashMap::new();
    for n in s.live() {
        let rows = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for r in rows.as_array().unwrap() {
            if r["state"] != "Healthy" {
                continue;
            }
            let e = m.entry(r["id"].as_str().unwrap().to_string()).or_default();
            e.0.insert(n.name.clone());
            for l in r["leases"].as_array().unwrap() {
                e.1.insert((
                    l["copies"].as_u64().unwrap(),
                    l["expires_at"].as_u64().unwrap(),
                ));
            }
        }
    }
    m
}

fn wait_copies(s: &Swarm, shards: usize, copies: usize, lease: (u64, u64)) -> Duration {
    let t = Instant::now();
    loop {
        let c = census(s);
        let ok = c.len() == shards
            && c.values()
                .all(|(on, leases)| on.len() == copies && leases == &HashSet::from([lease]));
        if ok {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "not {copies} copies under {lease:?}: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn change(s: &Swarm, args: &[&str]) -> Value {
    let mut a = vec!["retention"];
    a.extend_from_slice(args);
    a.push("--json");
    s.nodes[0].run(&s.env, &a).ok().json()
}

#[test]
fn tier_up_tier_down_and_extend_change_every_holders_lease() {
    let s = Swarm::start(4, 4, FAST);
    let (id, src) = backup(&s, 0, "silver", 101, 3);
    let before = census(&s);
    let shards = before.len();
    let listed = s.nodes[0]
        .run(&s.env, &["backup", "list", "--json"])
        .ok()
        .json();
    let created = listed[0]["info"]["created_at"].as_u64().unwrap();
    let day = 86_400;

    let up = change(&s, &["tier", &id, "gold"]);
    assert_eq!(up["updated"].as_u64().unwrap() as usize, shards, "{up}");
    assert_eq!(up["catalogue"], "published", "{up}");
    let gold = (5, created + (3 * 365 + 1) * day);
    eprintln!("gold: 4 copies in {:?}", wait_copies(&s, shards, 4, gold));

    let down = change(&s, &["tier", &id, "bronze"]);
    assert_eq!(down["updated"].as_u64().unwrap() as usize, shards, "{down}");
    let bronze = (2, created + 90 * day);
    eprintln!(
        "bronze: 2 copies in {:?}",
        wait_copies(&s, shards, 2, bronze)
    );

    let longer = change(&s, &["extend", &id, "--by", "365days"]);
    assert_eq!(longer["to_expiry"].as_u64().unwrap(), bronze.1 + 365 * day);
    let extended = (2, bronze.1 + 365 * day);
    wait_copies(&s, shards, 2, extended);

    // The catalogue, on the owner's node and on a fresh one, says the same.
    let listed = s.nodes[0]
        .run(&s.env, &["backup", "list", "--json"])
        .ok()
        .json();
    assert_eq!(listed[0]["info"]["tier"], "Bronze");
    assert_eq!(
        listed[0]["info"]["expires_at"].as_u64().unwrap(),
        extended.1
    );
    s.restore_elsewhere(0, 3, &id, &src);
    let fresh = s.nodes[3]
        .run(&s.env, &["backup", "list", "--json"])
        .ok()
        .json();
    assert_eq!(fresh[0]["info"]["expires_at"].as_u64().unwrap(), extended.1);

    let audit = s.nodes[0]
        .run(&s.env, &["retention", "audit", "--json"])
        .ok()
        .json();
    let row = &audit["backups"][0];
    assert_eq!(row["state"], "ok", "{audit}");
    assert_eq!(row["copies_target"], 2);
    assert!(row["proven_min"].as_u64().unwrap() >= 2, "{audit}");
    assert_eq!(row["below_target"], 0);
    // Within a 500-day window it is expiring: a warning and exit code 1.
    let r = s.nodes[0].run(&s.env, &["retention", "audit", "--warn", "500days"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("retention extend"), "{}", r.stdout);
    // Terms that would already have run out are refused.
    let r = s.nodes[0].run(&s.env, &["retention", "extend", &id, "--by", "30years"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("at most"), "{}", r.stderr);
}
