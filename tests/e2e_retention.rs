//! End-to-end: retention takes effect. A bronze backup (90 days, 2 copies)
//! and a silver one (1 year, 3 copies) on a swarm of real node processes;
//! every node restarts with its clock 100 days ahead (`--clock-offset`, an
//! injected time source instead of waiting). Bronze is then past its grace
//! period and expired, silver stays live. A holder dies: silver's copies are
//! repaired, bronze's are not, and no node even tries to copy them.

mod common;

use common::swarm::{backup, Swarm, FAST};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Shard id → (holders, copies its leases ask for, retention state), over
/// the live nodes.
fn census(s: &Swarm) -> HashMap<String, (HashSet<String>, u64, String)> {
    let mut m: HashMap<String, (HashSet<String>, u64, String)> = HashMap::new();
    for n in s.live() {
        let rows = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for r in rows.as_array().unwrap() {
            if r["state"] != "Healthy" {
                continue;
            }
            let copies = r["leases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["copies"].as_u64().unwrap())
                .max()
                .unwrap_or(0);
            let e = m
                .entry(r["id"].as_str().unwrap().to_string())
                .or_insert_with(|| (HashSet::new(), copies, String::new()));
            e.0.insert(n.name.clone());
            e.2 = r["retention"].as_str().unwrap().to_string();
        }
    }
    m
}

#[test]
fn bronze_expires_and_is_not_repaired_while_silver_is() {
    let mut s = Swarm::start(4, 4, FAST);
    backup(&s, 0, "bronze", 61, 3);
    backup(&s, 0, "silver", 62, 3);
    let before = census(&s);
    let bronze = before.values().filter(|v| v.1 == 2).count();
    let silver = before.values().filter(|v| v.1 == 3).count();
    assert!(
        bronze >= 4 && silver >= 4,
        "{bronze} bronze, {silver} silver"
    );
    assert!(before.values().all(|v| v.2 == "live"), "{before:?}");

    // 100 days later on every node: bronze (90 days + 7 of grace) expired.
    let mut args = FAST.to_vec();
    args.extend(["--clock-offset", "100d"]);
    // The bootstrap node first (it redials the others where they are), then
    // the others through its new address.
    for i in 0..4 {
        s.stop(i);
        s.restart(i, &args);
        if i == 0 {
            s.boot = s.nodes[0].addr(&s.env);
        }
    }
    s.converge();
    let later = census(&s);
    for (id, (_, copies, state)) in &later {
        let want = if *copies == 2 { "expired" } else { "live" };
        assert_eq!(state, want, "shard {id} with {copies} copies");
    }

    // The node (not the owner's) holding most bronze copies dies.
    let victim = (1..4)
        .max_by_key(|i| {
            later
                .values()
                .filter(|v| v.1 == 2 && v.0.contains(&s.nodes[*i].name))
                .count()
        })
        .unwrap();
    let lost = later
        .values()
        .filter(|v| v.1 == 2 && v.0.contains(&s.nodes[victim].name))
        .count();
    assert!(lost > 0);
    let victim_name = s.nodes[victim].name.clone();
    s.stop(victim);

    // Silver comes back to 3 copies on the three survivors.
    let t = Instant::now();
    loop {
        let c = census(&s);
        let silver_ok = c.values().filter(|v| v.1 == 3).all(|v| v.0.len() == 3);
        if silver_ok && c.values().filter(|v| v.1 == 3).count() == silver {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "silver not repaired: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("silver repaired in {:?}", t.elapsed());
    // A few more scans (every 2 s): bronze keeps the copies it had left.
    std::thread::sleep(Duration::from_secs(8));
    let after = census(&s);
    let mut below = 0;
    for (id, (on, copies, _)) in after.iter().filter(|(_, v)| v.1 == 2) {
        let had: HashSet<String> = later[id]
            .0
            .iter()
            .filter(|n| **n != victim_name)
            .cloned()
            .collect();
        assert_eq!(on, &had, "expired shard {id} ({copies} copies) moved");
        below += usize::from(on.len() < 2);
    }
    assert_eq!(
        below, lost,
        "every bronze shard the victim held stays short"
    );
    for n in s.live() {
        let log = n.log_text();
        assert!(
            !log.contains("every lease on the shard has expired"),
            "{} tried to copy an expired shard",
            n.name
        );
    }
    eprintln!("{lost} expired shards left at one copy, {silver} silver shards repaired");
}
