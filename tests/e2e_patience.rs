//! Lazy repair on real nodes (`protocol::patience`): a silent holder keeps
//! its places while each shard keeps its floor of proven copies elsewhere,
//! so an outage copies nothing; a shard down to one copy is repaired after
//! `down_after`, however patient the swarm is with the silent holders.

mod common;

use common::swarm::{backup, histogram, total_shards, Swarm};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Down after 3 s, but a holder may stay silent for 10 minutes while the
/// shards it holds keep their floor.
const LAZY: &[&str] = &[
    "--down-after",
    "3",
    "--patience-max",
    "600",
    "--scan-interval",
    "2",
];

/// Repair and handoff bytes sent so far by the nodes named.
fn moved(s: &Swarm, names: &[String]) -> u64 {
    s.live()
        .into_iter()
        .filter(|n| names.contains(&n.name))
        .map(|n| n.bytes_moved(&s.env))
        .sum()
}

#[test]
fn an_outage_copies_nothing_and_a_shard_at_one_copy_is_repaired_at_once() {
    // Zones 0, 1, 2, 0, 1: node3 is zone 2's only node, so it holds a copy
    // of every shard (one copy per zone).
    let mut s = Swarm::start(5, 3, LAZY);
    let (id, src) = backup(&s, 0, "silver", 41, 24);
    let shards = total_shards(&s);
    s.wait_exact(Duration::from_secs(60), true, shards);
    // A few scans: each holder proves its co-holders' copies once their
    // shards are older than a scan (a silent peer keeps its places only where
    // this node has its own proof that it held the shard).
    std::thread::sleep(Duration::from_secs(10));
    let survivors: Vec<String> = [0, 3, 4].iter().map(|&i| s.nodes[i].name.clone()).collect();
    let before = s.pass();
    let moved_before = moved(&s, &survivors);

    // node3 goes silent: every shard is at 2 of 3 copies, its floor, and
    // the survivors wait (down after 3 s; waited 5 times that, with scans
    // every 2 s).
    let node3 = s.nodes[2].name.clone();
    s.nodes[2].kill();
    std::thread::sleep(Duration::from_secs(15));
    let after = s.pass();
    assert_eq!(after.len(), before.len(), "{:?}", histogram(&after));
    for (shard, (on, _, _)) in &after {
        let mut was = before[shard].0.clone();
        was.remove(&node3);
        assert_eq!(on, &was, "shard {shard} changed holders");
    }
    assert_eq!(
        moved(&s, &survivors),
        moved_before,
        "an outage copied bytes"
    );
    // `rebalance plan` says why: shards below target wait for a silent holder.
    let plan = s.nodes[0]
        .run(&s.env, &["rebalance", "plan", "--json"])
        .ok()
        .json();
    assert!(plan["waiting_for_silent"].as_u64().unwrap() > 0, "{plan}");
    assert_eq!(plan["moves"].as_array().unwrap().len(), 0, "{plan}");

    // node2 goes too: the shards it held are down to one copy and are
    // repaired at once; the ones on node5 keep two and wait for the holders.
    let node2 = s.nodes[1].name.clone();
    s.nodes[1].kill();
    let start = Instant::now();
    let settled = loop {
        let p = s.pass();
        if p.len() == shards && p.values().all(|(on, _, _)| on.len() >= 2) {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "shards left below 2 copies: {:?}",
            histogram(&p)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let at_one: HashSet<&String> = before
        .iter()
        .filter(|(_, (on, w, _))| *w == 3 && on.contains(&node2) && on.contains(&node3))
        .map(|(id, _)| id)
        .collect();
    let waiting = before
        .iter()
        .filter(|(id, (on, w, _))| *w == 3 && !at_one.contains(id) && on.len() == 3)
        .count();
    assert!(
        !at_one.is_empty() && waiting > 0,
        "{:?}",
        histogram(&before)
    );
    assert!(moved(&s, &survivors) > moved_before, "nothing was repaired");
    let at_two = settled
        .iter()
        .filter(|(id, (on, w, _))| *w == 3 && !at_one.contains(id) && on.len() == 2)
        .count();
    assert!(
        at_two > 0,
        "the shards that kept two copies were repaired too: {:?}",
        histogram(&settled)
    );
    s.restore_elsewhere(0, 3, &id, &src);
}
