//! End-to-end tests of erasure-coded backups (`--redundancy rs K+M`): real
//! `shardnet node run` processes on 127.0.0.1. A chunk's pieces land one
//! per node, a backup costs (K+M)/K bytes per byte instead of the tier's
//! copies, any K pieces restore it on a machine that has only the owner
//! key, and deleting it releases every piece.

mod common;

use common::liar::{Liar, Lie};
use common::random_bytes;
use common::swarm::{Swarm, FAST};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::Duration;

fn states(c: &HashMap<String, (HashSet<String>, usize)>, id: &str) -> Vec<String> {
    let mut v: Vec<String> = c[id].0.iter().cloned().collect();
    v.sort();
    v
}

/// Backs up `mib` MiB of seeded random bytes (`NAME/data.bin`) from node 1
/// at `tier` as `rs 2+2` pieces: the created report and the source dir.
fn backup_pieces(
    s: &Swarm,
    name: &str,
    tier: &str,
    seed: u64,
    mib: usize,
) -> (serde_json::Value, std::path::PathBuf) {
    let src = s.env.path(name);
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("data.bin"), random_bytes(seed, mib << 20)).unwrap();
    let args = [
        "backup",
        "create",
        "--json",
        "--tier",
        tier,
        "--redundancy",
        "rs 2+2",
        src.to_str().unwrap(),
    ];
    (s.nodes[0].run(&s.env, &args).ok().json(), src)
}

/// shard id → nodes holding it healthy.
fn holders(s: &Swarm) -> HashMap<String, Vec<usize>> {
    let mut map: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in s.nodes.iter().enumerate() {
        let list = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for sh in list.as_array().unwrap() {
            if sh["state"] == "Healthy" {
                map.entry(sh["id"].as_str().unwrap().to_string())
                    .or_default()
                    .push(i);
            }
        }
    }
    map
}

#[test]
fn pieces_one_per_node_half_the_bytes_and_any_two_restore_after_two_nodes_die() {
    let mut s = Swarm::start(5, 3, &[]);
    let src = s.env.path("tree");
    fs::create_dir_all(&src).unwrap();
    let mut data = 0u64;
    for i in 0..4 {
        let b = random_bytes(40 + i, 4 << 20);
        data += b.len() as u64;
        fs::write(src.join(format!("f{i}.bin")), b).unwrap();
    }
    fs::write(src.join("small.txt"), "small\n").unwrap();
    let created = s.nodes[0]
        .run(
            &s.env,
            &[
                "backup",
                "create",
                "--json",
                "--tier",
                "silver",
                "--redundancy",
                "rs 2+2",
                src.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    let chunks = created["entry"]["info"]["chunks"].as_u64().unwrap() as usize;
    let warnings = created["warnings"].as_array().unwrap();
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("pieces")),
        "{created}"
    );

    let shown = s.nodes[0]
        .run(&s.env, &["backup", "show", &id, "--json"])
        .ok()
        .json();
    assert_eq!(
        shown["pieces"]["rs 2+2"].as_u64(),
        Some(chunks as u64),
        "{shown}"
    );

    // Every chunk is 4 pieces of one copy each, on 4 distinct nodes (the
    // manifest and root stay 3 copies each).
    let map = holders(&s);
    let single = map.values().filter(|on| on.len() == 1).count();
    assert!(
        single >= chunks * 4,
        "{single} single-copy objects for {chunks} chunks: {map:?}"
    );
    assert!(
        map.values().all(|on| on.len() == 1 || on.len() == 3),
        "{map:?}"
    );
    // Bytes: 2 per byte of data (4 pieces of a half each), not silver's 3.
    let used: u64 = (0..5).map(|i| s.used(i)).sum();
    let ratio = used as f64 / data as f64;
    eprintln!(
        "{chunks} chunks, {} objects, {single} single-copy; stored {used} for {data} ({ratio:.2}x)",
        map.len()
    );
    assert!(
        (1.9..2.3).contains(&ratio),
        "stored {used} for {data}: {ratio:.2}x"
    );

    // A second, small backup, deleted while every node is up: every piece's
    // lease is released (the delete asks past the siblings' holders).
    let (made, _) = backup_pieces(&s, "other", "bronze", 99, 3);
    let other_id = made["entry"]["id"].as_str().unwrap().to_string();
    let del = s.nodes[0]
        .run(&s.env, &["backup", "delete", &other_id, "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(del["unreleased"], 0, "{del}");
    assert!(del["released"].as_u64().unwrap() >= 3 * 4, "{del}");

    // Two nodes die (kill -9); node 5, with only the owner key, restores
    // every byte from the two pieces left of each chunk.
    s.nodes[1].kill();
    s.nodes[2].kill();
    let key = s.owner_key(0);
    s.nodes[4]
        .run(&s.env, &["keys", "import", &key, "--force"])
        .ok();
    let out = s.env.path("restored");
    s.nodes[4]
        .run(&s.env, &["backup", "restore", &id, out.to_str().unwrap()])
        .ok();
    for i in 0..4 {
        let name = format!("f{i}.bin");
        assert!(
            fs::read(out.join("tree").join(&name)).unwrap() == fs::read(src.join(&name)).unwrap(),
            "{name} differs"
        );
    }
    assert_eq!(
        fs::read_to_string(out.join("tree/small.txt")).unwrap(),
        "small\n"
    );
    // The checks agree: every chunk has at least 2 proven pieces.
    let quick = s.nodes[4]
        .run(&s.env, &["backup", "verify", &id, "--json"])
        .ok()
        .json();
    assert_eq!(quick["problems"], serde_json::json!([]), "{quick}");
    let pieces = quick["proven_pieces"].as_array().unwrap();
    assert!(
        pieces.iter().all(|p| p[0].as_u64().unwrap() >= 2),
        "{quick}"
    );
    s.nodes[4]
        .run(&s.env, &["backup", "verify", &id, "--full"])
        .ok();
}

/// `keys rotate` moves every piece to the new key's lease (a piece is one
/// copy, held past its siblings' holders: the rotation asks them all), and
/// `--reencrypt` cuts the re-sealed chunks into pieces again and releases
/// the old pieces: every object stored before ends orphaned, and the backup
/// restores with the newest key on another node.
#[test]
fn rotating_the_key_moves_the_pieces_and_reencrypting_cuts_them_again() {
    let s = Swarm::start(5, 3, FAST);
    let (created, src) = backup_pieces(&s, "r", "silver", 61, 6);
    let chunks = created["entry"]["info"]["chunks"].as_u64().unwrap() as usize;
    let before = s.census();
    let pieces: Vec<&String> = before
        .iter()
        .filter(|(_, v)| v.1 == 1)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(pieces.len(), chunks * 4, "{before:?}");

    let rep = s.nodes[0]
        .run(&s.env, &["keys", "rotate", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(
        rep["data_shards"].as_u64().unwrap() as usize,
        chunks * 4,
        "{rep}"
    );
    let after = s.census();
    for id in &pieces {
        assert_eq!(
            states(&after, id),
            ["live"],
            "piece {id} after the rotation"
        );
    }

    let rep = s.nodes[0]
        .run(
            &s.env,
            &["keys", "rotate", "--reencrypt", "--yes", "--json"],
        )
        .ok()
        .json();
    assert_eq!(
        rep["reencrypted"].as_u64().unwrap() as usize,
        chunks,
        "{rep}"
    );
    let now = s.census();
    for id in before.keys() {
        assert_eq!(
            states(&now, id),
            ["orphaned"],
            "old object {id} still leased"
        );
    }
    let fresh = now
        .iter()
        .filter(|(id, v)| !before.contains_key(*id) && v.1 == 1)
        .count();
    assert!(
        fresh >= chunks * 4,
        "{fresh} new pieces for {chunks} chunks: {now:?}"
    );

    // The newest backup id, as the owner lists it; node 5 restores it
    // with the newest key.
    let list = s.nodes[0]
        .run(&s.env, &["backup", "list", "--json"])
        .ok()
        .json();
    let id = list[0]["id"].as_str().unwrap().to_string();
    s.restore_elsewhere(0, 4, &id, &src);
}

/// (fewest proven pieces of any chunk, chunks that cannot be restored now)
/// from a quick `backup verify` on `node`.
fn pieces_state(s: &Swarm, node: usize, id: &str) -> (u64, u64) {
    try_pieces_state(s, node, id).unwrap_or_else(|e| panic!("{e}"))
}

/// [`pieces_state`], or why `backup verify` gave no answer: inside a wait,
/// a verify that failed once (a full run saw it print nothing while two
/// nodes were down) is "not yet", not the end of the test.
fn try_pieces_state(s: &Swarm, node: usize, id: &str) -> Result<(u64, u64), String> {
    let r = s.nodes[node].run(&s.env, &["backup", "verify", id, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).map_err(|e| {
        format!(
            "backup verify exited {} without JSON ({e}): {}",
            r.code,
            r.stderr.trim()
        )
    })?;
    let fewest = v["proven_pieces"]
        .as_array()
        .and_then(|a| a.first())
        .map_or(0, |p| p[0].as_u64().unwrap());
    Ok((fewest, v["pieces_short"].as_u64().unwrap_or(u64::MAX)))
}

/// Two of six nodes die. The owner's node, by itself, rebuilds the pieces
/// of every chunk that fell below its floor (K + ceil(M/2) = 3 of 2+2) and
/// leaves the chunks that lost one piece alone (lazy); `backup repair`
/// then rebuilds those too, and every chunk is back to 4 proven pieces on
/// the 4 nodes left, restored byte-identical.
#[test]
fn lost_pieces_are_rebuilt_below_the_floor_by_the_node_and_all_of_them_on_request() {
    let mut s = Swarm::start(6, 3, FAST);
    let (created, src) = backup_pieces(&s, "p", "bronze", 71, 16);
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    assert_eq!(pieces_state(&s, 0, &id), (4, 0));

    s.nodes[4].kill();
    s.nodes[5].kill();
    s.converge();
    let t = std::time::Instant::now();
    s.nodes[0].wait_for(
        std::time::Duration::from_secs(180),
        "the chunks below their floor rebuilt",
        |_| match try_pieces_state(&s, 0, &id) {
            Ok((fewest, _)) => fewest >= 3,
            Err(e) => {
                eprintln!("{e}");
                false
            }
        },
    );
    eprintln!(
        "below-floor chunks rebuilt by the node in {:?}",
        t.elapsed()
    );
    assert!(s.nodes[0].log_text().contains("piece rebuilt"));

    let r = s.nodes[0]
        .run(&s.env, &["backup", "repair", &id, "--json"])
        .ok()
        .json();
    assert_eq!(r["failures"], serde_json::json!([]), "{r}");
    assert_eq!(r["unrecoverable"], serde_json::json!([]), "{r}");
    assert!(r["rebuilt_pieces"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(pieces_state(&s, 0, &id), (4, 0));
    let again = s.nodes[0]
        .run(&s.env, &["backup", "repair", &id, "--json"])
        .ok()
        .json();
    assert_eq!(again["rebuilt_pieces"], 0, "{again}");
    assert_eq!(again["whole"], again["stripes"], "{again}");

    s.restore_elsewhere(0, 3, &id, &src);
}

/// A peer that proved receipt of its pieces and then dropped them, serving
/// bytes that do not hash to their ids since: a restore on another node
/// skips its pieces (and says so) and reads the others, the quick verify
/// counts only the pieces honest peers prove, and `backup repair` puts the
/// dropped ones back.
#[test]
fn pieces_a_liar_dropped_are_skipped_on_restore_counted_out_and_rebuilt() {
    let s = Swarm::start(5, 5, FAST);
    let liar = Liar::start(
        &s.boot,
        "x1",
        Lie::Forgetful {
            keep: Duration::from_secs(2),
            claims_all: false,
        },
    );
    let peer = liar.peer.to_string();
    s.nodes[0].wait_for(Duration::from_secs(60), "the liar live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array().is_some_and(|a| {
            a.iter()
                .any(|p| p["peer_id"] == peer.as_str() && p["live"] == true)
        })
    });
    let (created, src) = backup_pieces(&s, "l", "bronze", 81, 24);
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(3));

    s.restore_elsewhere(0, 4, &id, &src);
    assert!(
        s.nodes[4]
            .log_text()
            .contains("peer sent bytes that do not match the shard id"),
        "the liar held no data piece the restore asked for"
    );
    let (fewest, short) = pieces_state(&s, 0, &id);
    assert_eq!(short, 0);
    assert!((2..4).contains(&fewest), "fewest proven pieces {fewest}");

    let r = s.nodes[0]
        .run(&s.env, &["backup", "repair", &id, "--json"])
        .ok()
        .json();
    assert!(r["rebuilt_pieces"].as_u64().unwrap() >= 1, "{r}");
    // What went back to honest peers is proven; the liar may have taken a
    // rebuilt piece again (it proves receipt), so at least 3 per chunk.
    assert!(pieces_state(&s, 0, &id).0 >= 3);
    drop(liar);
}

/// stripe (its shard id) → piece index → live nodes holding that piece
/// healthy, from the stripe records the holders keep (`shards list`).
fn stripes_held(s: &Swarm, dead: &[usize]) -> HashMap<String, HashMap<usize, Vec<usize>>> {
    let mut map: HashMap<String, HashMap<usize, Vec<usize>>> = HashMap::new();
    for (i, n) in s.nodes.iter().enumerate() {
        if dead.contains(&i) {
            continue;
        }
        let list = n.run(&s.env, &["shards", "list", "--json"]).ok().json();
        for sh in list.as_array().unwrap() {
            let record = &sh["stripe"];
            if sh["state"] != "Healthy" || record.is_null() {
                continue;
            }
            let pieces = record["stripe"]["pieces"].as_array().unwrap();
            let index = pieces.iter().position(|p| *p == sh["id"]).unwrap();
            let shard = record["stripe"]["shard"].as_str().unwrap().to_string();
            map.entry(shard)
                .or_default()
                .entry(index)
                .or_default()
                .push(i);
        }
    }
    map
}

/// The owner's node goes offline for good, and with it a node holding
/// pieces of the same stripes. The holders, from the owner's signed stripe
/// records alone, rebuild every stripe that fell below its floor (3 of
/// `rs 2+2`) back to 4 pieces, one per node, never two of a stripe on one
/// node nor one piece twice (one holder per stripe acts); the stripes that
/// lost one piece wait (lazy). The backup then restores on another node
/// with the owner key.
#[test]
fn holders_rebuild_lost_pieces_while_the_owner_is_offline() {
    let mut s = Swarm::start(7, 3, FAST);
    // Silver: the manifest and its index keep 3 copies, so two dead nodes
    // leave one to repair from.
    let (created, src) = backup_pieces(&s, "h", "silver", 72, 12);
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    let key = s.owner_key(0);
    let before = stripes_held(&s, &[]);
    assert!(before.len() >= 8, "{before:?}");
    for (shard, pieces) in &before {
        assert_eq!(
            pieces.len(),
            4,
            "every holder keeps its record: {shard} {pieces:?}"
        );
    }
    let holds = |p: &HashMap<usize, Vec<usize>>, n: usize| p.values().any(|h| h.contains(&n));
    // The node sharing the most stripes with the owner's node dies with it.
    let shared = |j: usize| {
        before
            .values()
            .filter(|p| holds(p, 0) && holds(p, j))
            .count()
    };
    let victim = (1..7).max_by_key(|j| shared(*j)).unwrap();
    let below: Vec<&String> = before
        .iter()
        .filter(|(_, p)| holds(p, 0) && holds(p, victim))
        .map(|(k, _)| k)
        .collect();
    let one_lost = before
        .values()
        .filter(|p| holds(p, 0) != holds(p, victim))
        .count();
    assert!(
        !below.is_empty(),
        "the owner's node holds no piece: {before:?}"
    );

    s.nodes[0].kill();
    s.nodes[victim].kill();
    let dead = [0, victim];
    let witness = if victim == 1 { 2 } else { 1 };
    let t = std::time::Instant::now();
    s.nodes[witness].wait_for(
        Duration::from_secs(240),
        "the holders to rebuild the stripes below their floor",
        |_| {
            std::thread::sleep(Duration::from_secs(2));
            let now = stripes_held(&s, &dead);
            below
                .iter()
                .all(|k| now.get(*k).is_some_and(|p| p.len() == 4))
        },
    );
    eprintln!(
        "{} stripes below their floor rebuilt by their holders in {:?} ({one_lost} lost one piece)",
        below.len(),
        t.elapsed()
    );
    let after = stripes_held(&s, &dead);
    let mut waiting = 0;
    for (k, p) in &after {
        let nodes: Vec<usize> = p.values().flatten().copied().collect();
        let distinct: HashSet<usize> = nodes.iter().copied().collect();
        assert_eq!(
            nodes.len(),
            distinct.len(),
            "{k}: two pieces on one node, or one twice: {p:?}"
        );
        assert!(p.len() >= 3, "{k} is below its floor: {p:?}");
        waiting += usize::from(p.len() == 3);
    }
    assert_eq!(after.len(), before.len());
    assert_eq!(
        waiting, one_lost,
        "stripes that lost one piece wait: {after:?}"
    );
    let rebuilt: usize = (1..7)
        .filter(|i| !dead.contains(i))
        .map(|i| {
            s.nodes[i]
                .log_text()
                .matches("piece rebuilt by a holder")
                .count()
        })
        .sum();
    assert_eq!(rebuilt, 2 * below.len(), "each lost piece rebuilt once");

    s.nodes[witness]
        .run(&s.env, &["keys", "import", &key, "--force"])
        .ok();
    let out = s.env.path("restored-held");
    s.nodes[witness]
        .run(&s.env, &["backup", "restore", &id, out.to_str().unwrap()])
        .ok();
    assert!(
        fs::read(out.join("h").join("data.bin")).unwrap()
            == fs::read(src.join("data.bin")).unwrap(),
        "restored {id} differs"
    );
}

/// Three nodes join a swarm of five after a backup of pieces. Handoffs move
/// pieces to the joiners now closest by their ids, but never a second piece
/// of a stripe onto a node that holds one (the owner's avoid lists were
/// written before the joiners existed; the holder asks the joiner about
/// the siblings its stripe record names). Checked at every sample while the
/// moves run and once they settle: no node holds two pieces of a stripe,
/// every stripe keeps its 4 pieces, and the backup restores.
#[test]
fn handoffs_to_joining_nodes_keep_a_stripes_pieces_apart() {
    let mut s = Swarm::start(5, 3, FAST);
    let (created, src) = backup_pieces(&s, "j", "silver", 73, 16);
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    let before = stripes_held(&s, &[]);
    for zone in ["zone0", "zone1", "zone2"] {
        s.add(zone, FAST);
    }
    s.converge();
    let apart = |m: &HashMap<String, HashMap<usize, Vec<usize>>>| {
        for (k, p) in m {
            let mut on: HashMap<usize, HashSet<usize>> = HashMap::new();
            for (i, nodes) in p {
                for n in nodes {
                    on.entry(*n).or_default().insert(*i);
                }
            }
            for (n, indices) in on {
                assert!(
                    indices.len() == 1,
                    "node {n} holds pieces {indices:?} of {k}: {p:?}"
                );
            }
        }
    };
    let joined = |m: &HashMap<String, HashMap<usize, Vec<usize>>>| {
        m.values()
            .flat_map(|p| p.values().flatten())
            .filter(|n| **n >= 5)
            .count()
    };
    let t = std::time::Instant::now();
    let mut last = None;
    let mut same = 0;
    while same < 5 {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "the handoffs did not settle: {last:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
        let now = stripes_held(&s, &[]);
        apart(&now);
        same = if Some(&now) == last.as_ref() && joined(&now) > 0 {
            same + 1
        } else {
            0
        };
        last = Some(now);
    }
    let after = last.unwrap();
    eprintln!(
        "{} of {} pieces handed off to the joiners in {:?}",
        joined(&after),
        4 * after.len(),
        t.elapsed()
    );
    assert_eq!(after.len(), before.len());
    for (k, p) in &after {
        let logs: Vec<String> = s
            .nodes
            .iter()
            .map(|n| {
                let text = n.log_text();
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        l.contains("piece kept")
                            || l.contains("second piece")
                            || l.contains("quarantine")
                            || l.contains("rebuilt")
                    })
                    .collect::<Vec<_>>();
                format!("--- {}\n{}", n.name, lines.join("\n"))
            })
            .collect();
        assert_eq!(p.len(), 4, "{k}: {p:?}\n{}", logs.join("\n"));
    }
    s.restore_elsewhere(0, 6, &id, &src);
}
