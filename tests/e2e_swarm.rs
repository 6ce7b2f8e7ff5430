//! End-to-end tests of the swarm: real `shardnet node run` processes on
//! 127.0.0.1, driven through the CLI as an operator would; and the owner's
//! catalogue, which follows its slot's holders as peers join and leave.

mod common;

use common::swarm::{Swarm, FAST};
use common::{random_bytes, Env, NodeProc};
use std::collections::HashMap;
use std::fs;
use std::time::Duration;

fn live_peers(env: &Env, n: &NodeProc) -> usize {
    n.run(env, &["peers", "list", "--json"])
        .json()
        .as_array()
        .map_or(0, |a| a.iter().filter(|p| p["live"] == true).count())
}

/// Starts `count` nodes in `zones` zones, all bootstrapped from the first, and
/// waits until every node sees every other.
pub fn swarm(env: &Env, count: usize, zones: usize, extra: &[&str]) -> Vec<NodeProc> {
    let first = NodeProc::start(env, "node1", "zone0", None, extra);
    let boot = first.addr(env);
    let mut nodes = vec![first];
    for i in 2..=count {
        let zone = format!("zone{}", (i - 1) % zones);
        nodes.push(NodeProc::start(
            env,
            &format!("node{i}"),
            &zone,
            Some(&boot),
            extra,
        ));
    }
    for n in &nodes {
        n.wait_for(Duration::from_secs(60), "full membership", |n| {
            live_peers(env, n) == count
        });
    }
    nodes
}

/// shard id → nodes holding it healthy.
fn holders(env: &Env, nodes: &[NodeProc]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for n in nodes {
        for s in n
            .run(env, &["shards", "list", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
        {
            if s["state"] == "Healthy" {
                map.entry(s["id"].as_str().unwrap().to_string())
                    .or_default()
                    .push(n.name.clone());
            }
        }
    }
    map
}

#[test]
fn backup_lands_on_three_peers_and_restores_elsewhere_after_failures() {
    let env = Env::new();
    let mut nodes = swarm(&env, 5, 3, &[]);
    let src = env.path("tree");
    fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..6 {
        fs::write(src.join(format!("f{i}.bin")), random_bytes(i, 10 << 20)).unwrap();
    }
    fs::write(src.join("sub/small.txt"), "small\n").unwrap();
    let created = nodes[0]
        .run(
            &env,
            &[
                "backup",
                "create",
                "--json",
                "--tier",
                "silver",
                src.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    let id = created["entry"]["id"].as_str().unwrap().to_string();
    let shard_count = created["entry"]["shards"].as_u64().unwrap() as usize;
    // Zone2 has one node, so zone spread puts every data shard on it, and
    // separation keeps the index off it: the conflict is reported, and that
    // is the only warning.
    let warnings = created["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().all(|w| w
            .as_str()
            .unwrap()
            .contains("complementary separation keeps the index off them")),
        "{created}"
    );

    // Every shard of the backup is on exactly 3 distinct nodes.
    let map = holders(&env, &nodes);
    assert_eq!(map.len(), shard_count, "{map:?}");
    for (shard, on) in &map {
        assert_eq!(on.len(), 3, "shard {shard} on {on:?}");
    }
    // Complementary separation: no node holds every shard of the backup.
    for n in &nodes {
        assert!(
            map.values().any(|on| !on.contains(&n.name)),
            "{} holds the whole backup",
            n.name
        );
    }

    // Node 5 never saw the data; with only the owner key it lists and restores.
    let key = nodes[0]
        .run(&env, &["keys", "export"])
        .ok()
        .stdout
        .trim()
        .to_string();
    nodes[4]
        .run(&env, &["keys", "import", &key, "--force"])
        .ok();
    let list = nodes[4]
        .run(&env, &["backup", "list", "--json"])
        .ok()
        .json();
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    let out = env.path("restored");
    nodes[4]
        .run(&env, &["backup", "restore", &id, out.to_str().unwrap()])
        .ok();
    for i in 0..6 {
        let name = format!("f{i}.bin");
        assert!(
            fs::read(out.join("tree").join(&name)).unwrap() == fs::read(src.join(&name)).unwrap()
        );
    }

    // Kill two nodes (every shard has 3 copies, so each keeps at least one
    // holder); node 5 still restores everything.
    nodes[1].kill();
    nodes[2].kill();
    let out2 = env.path("restored-after-failures");
    nodes[4]
        .run(&env, &["backup", "restore", &id, out2.to_str().unwrap()])
        .ok();
    for i in 0..6 {
        let name = format!("f{i}.bin");
        assert!(
            fs::read(out2.join("tree").join(&name)).unwrap() == fs::read(src.join(&name)).unwrap()
        );
    }
    nodes[4]
        .run(&env, &["backup", "verify", &id, "--full"])
        .ok();
    let quick = nodes[4]
        .run(&env, &["backup", "verify", &id, "--json"])
        .ok()
        .json();
    assert_eq!(quick["problems"], serde_json::json!([]), "{quick}");
    assert_eq!(
        quick["shards_checked"].as_u64().unwrap() as usize,
        shard_count
    );
}

#[test]
fn small_swarm_stores_fewer_copies_and_says_so() {
    let env = Env::new();
    let nodes = swarm(&env, 2, 2, &[]);
    let src = env.path("d");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("x"), random_bytes(3, 3 << 20)).unwrap();
    let r = nodes[0]
        .run(
            &env,
            &[
                "backup",
                "create",
                "--json",
                "--tier",
                "gold",
                src.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    let w = r["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .any(|w| w.as_str().unwrap().contains("wants 5 copies")),
        "{r}"
    );
    let map = holders(&env, &nodes);
    assert!(map.values().all(|on| on.len() == 2), "{map:?}");
}

#[test]
fn sigterm_stops_a_node_cleanly_and_peers_drop_it() {
    let env = Env::new();
    let mut nodes = swarm(&env, 3, 3, &[]);
    let src = env.path("d");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("x"), random_bytes(5, 4 << 20)).unwrap();
    nodes[0]
        .run(
            &env,
            &[
                "backup",
                "create",
                "--tier",
                "bronze",
                src.to_str().unwrap(),
            ],
        )
        .ok();
    let code = nodes[2].terminate();
    let log = nodes[2].log_text();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The others heard it leave.
    nodes[0].wait_for(Duration::from_secs(10), "the leave", |n| {
        live_peers(&env, n) == 2
    });
    // Its store is consistent: it opens offline and every shard reads healthy.
    let shards = nodes[2]
        .run(&env, &["shards", "list", "--json"])
        .ok()
        .json();
    assert!(
        shards
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "Healthy"),
        "{shards}"
    );
    nodes[2].kill();
}

/// The owner's catalogue is repaired under churn: new peers that join its
/// slot get the record from the owner's node within one upkeep period (10 s
/// here), so when every peer that first held it is gone, a fresh machine with
/// only the owner key still lists the backup.
#[test]
fn the_catalogue_reaches_new_holders_and_outlives_its_first_ones() {
    let mut s = Swarm::start(3, 1, FAST);
    let (id, _) = common::swarm::backup(&s, 0, "bronze", 71, 2);
    s.add("zone0", FAST);
    s.add("zone0", FAST);
    s.converge();
    // One upkeep period and a margin.
    std::thread::sleep(Duration::from_secs(16));
    assert!(
        s.nodes[0].log_text().contains("catalogue upkeep: Copied"),
        "{}",
        s.nodes[0].log_text()
    );
    let key = s.nodes[0]
        .run(&s.env, &["keys", "export"])
        .ok()
        .stdout
        .trim()
        .to_string();
    for i in 0..3 {
        s.nodes[i].kill();
    }
    // A sixth node joins through a survivor and imports the key alone.
    let boot = s.nodes[3].addr(&s.env);
    let fresh = NodeProc::start(&s.env, "fresh", "zone0", Some(&boot), FAST);
    fresh.wait_for(Duration::from_secs(30), "the survivors live", |n| {
        let v = n.run(&s.env, &["peers", "list", "--json"]).json();
        v.as_array()
            .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == 3)
    });
    let mut import = std::process::Command::new(common::bin())
        .args(["keys", "import", "--force"])
        .env("SHARDNET_DATA_DIR", &fresh.data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = import.stdin.take().unwrap();
        writeln!(stdin, "{key}").unwrap();
    }
    assert!(import.wait().unwrap().success());
    let list = fresh.run(&s.env, &["backup", "list", "--json"]).ok().json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == id.as_str()),
        "the catalogue did not outlive its first holders: {list}"
    );
}
