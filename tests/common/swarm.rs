//! A swarm of real node processes for end-to-end tests: start, join, stop,
//! restart, and a census of who holds which shard (from each node's
//! `shards list`).

use super::{Env, NodeProc};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

/// Fast failure detection for tests: heartbeats every 300 ms, down after 3 s,
/// and no patience past that (every silent holder's place goes after 3 s,
/// whatever copies remain: the eager policy).
pub const FAST: &[&str] = &[
    "--down-after",
    "3",
    "--patience-max",
    "3",
    "--scan-interval",
    "2",
];

/// Fields drop in order: the nodes are killed before `env` removes the
/// directory they write into (the other way round, a node still flushing
/// its store made the removal fail and left the directory behind).
pub struct Swarm {
    pub nodes: Vec<NodeProc>,
    pub env: Env,
    pub zones: Vec<String>,
    pub boot: String,
}

impl Swarm {
    pub fn start(count: usize, zones: usize, args: &[&str]) -> Swarm {
        let env = Env::new();
        let args = args.to_vec();
        let first = NodeProc::start(&env, "node1", "zone0", None, &args);
        let mut s = Swarm::with_first(env, first);
        for i in 2..=count {
            s.add(&format!("zone{}", (i - 1) % zones), &args);
        }
        s.converge();
        s
    }

    /// A swarm of one: `first`, in zone0, which the others bootstrap from.
    pub fn with_first(env: Env, first: NodeProc) -> Swarm {
        let boot = first.addr(&env);
        Swarm {
            nodes: vec![first],
            env,
            zones: vec!["zone0".into()],
            boot,
        }
    }

    pub fn add(&mut self, zone: &str, args: &[&str]) {
        let name = format!("node{}", self.nodes.len() + 1);
        let n = NodeProc::start(&self.env, &name, zone, Some(&self.boot), args);
        self.nodes.push(n);
        self.zones.push(zone.into());
    }

    /// Healthy shard id → (retention states on its holders, holders), over
    /// the live nodes.
    pub fn census(&self) -> HashMap<String, (HashSet<String>, usize)> {
        let mut m: HashMap<String, (HashSet<String>, usize)> = HashMap::new();
        for n in self.live() {
            let rows = n.run(&self.env, &["shards", "list", "--json"]).ok().json();
            for r in rows.as_array().unwrap() {
                if r["state"] == "Healthy" {
                    let e = m.entry(r["id"].as_str().unwrap().to_string()).or_default();
                    e.0.insert(r["retention"].as_str().unwrap().to_string());
                    e.1 += 1;
                }
            }
        }
        m
    }

    pub fn live(&self) -> Vec<&NodeProc> {
        self.nodes
            .iter()
            .filter(|n| n.status(&self.env).is_some())
            .collect()
    }

    pub fn converge(&self) {
        let want = self.live().len();
        for n in self.live() {
            n.wait_for(Duration::from_secs(60), "membership", |n| {
                n.run(&self.env, &["peers", "list", "--json"])
                    .json()
                    .as_array()
                    .is_some_and(|a| a.iter().filter(|p| p["live"] == true).count() == want)
            });
        }
    }

    /// One pass over live nodes: shard → (holders, copies wanted, size).
    pub fn pass(&self) -> HashMap<String, (HashSet<String>, usize, u64)> {
        let mut map: HashMap<String, (HashSet<String>, usize, u64)> = HashMap::new();
        for n in self.live() {
            let r = n.run(&self.env, &["shards", "list", "--json"]);
            if r.code != 0 {
                continue;
            }
            for s in r.json().as_array().unwrap() {
                if s["state"] != "Healthy" {
                    continue;
                }
                let wanted = s["leases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["copies"].as_u64().unwrap())
                    .max()
                    .unwrap();
                let e = map
                    .entry(s["id"].as_str().unwrap().into())
                    .or_insert_with(|| (HashSet::new(), 0, 0));
                e.0.insert(n.name.clone());
                e.1 = e.1.max(wanted as usize);
                e.2 = s["size"].as_u64().unwrap();
            }
        }
        map
    }

    /// Holders seen in either of two consecutive passes (a shard moving between
    /// nodes while a pass runs is not mistaken for a lost copy).
    pub fn sample(&self) -> HashMap<String, (HashSet<String>, usize, u64)> {
        let mut a = self.pass();
        for (k, v) in self.pass() {
            let e = a.entry(k).or_insert_with(|| (HashSet::new(), v.1, v.2));
            e.0.extend(v.0);
        }
        a
    }

    /// Waits until every shard has exactly its wanted copies on live nodes,
    /// checking at every sample that none is below `floor` (None: no check).
    pub fn wait_exact(&self, limit: Duration, floor: bool, expect_shards: usize) -> Duration {
        let start = Instant::now();
        loop {
            let s = self.sample();
            if floor {
                for (id, (on, wanted, _)) in &s {
                    assert!(
                        on.len() >= *wanted,
                        "shard {id} fell to {} copies ({wanted} wanted): {on:?}",
                        on.len()
                    );
                }
            }
            let exact = self.pass();
            if exact.len() == expect_shards
                && exact.values().all(|(on, wanted, _)| on.len() == *wanted)
            {
                return start.elapsed();
            }
            if start.elapsed() >= limit {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| {
                        let t = n.log_text();
                        let tail: Vec<&str> = t.lines().rev().take(25).collect();
                        format!(
                            "--- {}\n{}",
                            n.name,
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        )
                    })
                    .collect();
                panic!(
                    "not back to exact redundancy within {limit:?}: {:?}\n{}",
                    histogram(&exact),
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits until every live node has run a repair scan that started after
    /// this call and found its shards at rest: each with at least `wanted`
    /// copies that this node proved itself (its coverage), nothing below
    /// target and nothing to move. A copy census (`wait_exact`) says the
    /// copies exist; this says every holder has the proofs that let a silent
    /// co-holder keep its place (`protocol::patience`).
    pub fn wait_at_rest(&self, limit: Duration, wanted: usize) -> Duration {
        let start = Instant::now();
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut last = Vec::new();
        loop {
            last.clear();
            for n in self.live() {
                let r = n.run(&self.env, &["rebalance", "status", "--json"]);
                let scan = (r.code == 0).then(|| r.json()["last_scan"].clone());
                let rest = scan.as_ref().is_some_and(|p| {
                    let coverage: Vec<u64> = p["coverage"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|c| c.as_u64()).collect())
                        .unwrap_or_default();
                    p["at"].as_u64().is_some_and(|at| at > since)
                        && p["moves"].as_array().is_some_and(|m| m.is_empty())
                        && p["below_target"] == 0
                        && coverage.iter().take(wanted).all(|c| *c == 0)
                });
                if !rest {
                    last.push(format!("{}: {}", n.name, scan.unwrap_or_default()));
                }
            }
            if last.is_empty() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "not at rest within {limit:?}; last scans of the nodes that were not:\n{}",
                last.join("\n")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// SIGTERM node `idx` and check it stopped cleanly (exit 0).
    pub fn stop(&mut self, idx: usize) {
        assert_eq!(self.nodes[idx].terminate(), Some(0));
    }

    /// Node `to` imports node `from`'s owner key (and nothing else) and
    /// restores backup `id`; the restored `data.bin` must equal `src`'s.
    pub fn restore_elsewhere(&self, from: usize, to: usize, id: &str, src: &std::path::Path) {
        let key = self.owner_key(from);
        self.nodes[to]
            .run(&self.env, &["keys", "import", &key, "--force"])
            .ok();
        let out = self.env.path(&format!("restored-{id}"));
        self.nodes[to]
            .run(&self.env, &["backup", "restore", id, out.to_str().unwrap()])
            .ok();
        let name = src.file_name().unwrap();
        assert!(
            fs::read(out.join(name).join("data.bin")).unwrap()
                == fs::read(src.join("data.bin")).unwrap(),
            "restored {id} differs"
        );
    }

    /// Node `idx`'s owner key, as `keys export` prints it.
    pub fn owner_key(&self, idx: usize) -> String {
        self.nodes[idx]
            .run(&self.env, &["keys", "export"])
            .ok()
            .stdout
            .trim()
            .to_string()
    }

    /// Bytes node `idx` holds, from its status.
    pub fn used(&self, idx: usize) -> u64 {
        self.nodes[idx].status(&self.env).unwrap()["used"]
            .as_u64()
            .unwrap()
    }

    pub fn restart(&mut self, idx: usize, args: &[&str]) {
        self.restart_with(idx, args, &[]);
    }

    /// Restarts node `idx` with extra environment variables.
    pub fn restart_with(&mut self, idx: usize, args: &[&str], vars: &[(&str, &str)]) {
        let name = self.nodes[idx].name.clone();
        let zone = self.zones[idx].clone();
        let n = NodeProc::start_with(&self.env, &name, &zone, Some(&self.boot), args, vars);
        self.nodes[idx] = n;
    }

    /// The zones a shard's holders (node names) are in.
    pub fn zones_of(&self, holders: &HashSet<String>) -> HashSet<String> {
        holders
            .iter()
            .map(|name| {
                let i = self.nodes.iter().position(|n| &n.name == name).unwrap();
                self.zones[i].clone()
            })
            .collect()
    }
}

pub fn histogram(m: &HashMap<String, (HashSet<String>, usize, u64)>) -> Vec<(usize, usize, usize)> {
    let mut h: HashMap<(usize, usize), usize> = HashMap::new();
    for (on, wanted, _) in m.values() {
        *h.entry((on.len(), *wanted)).or_default() += 1;
    }
    let mut v: Vec<_> = h.into_iter().map(|((a, b), c)| (a, b, c)).collect();
    v.sort();
    v
}

pub fn backup(
    s: &Swarm,
    node: usize,
    tier: &str,
    seed: u64,
    mib: usize,
) -> (String, std::path::PathBuf) {
    s.nodes[node].backup_random(&s.env, tier, seed, mib)
}

pub fn total_shards(s: &Swarm) -> usize {
    s.pass().len()
}

/// A gossiping attacker on the node's own swarm code, with an identity that
/// carries the test swarms' admission work (an attacker grinds it too).
pub fn gossiper(rt: &tokio::runtime::Runtime, boot: &str) -> shardnet_node::swarm::Client {
    gossiper_as(
        rt,
        boot,
        shardnet_node::datadir::grind_identity(super::ID_DIFFICULTY),
    )
}

/// A gossiping attacker with the given identity.
pub fn gossiper_as(
    rt: &tokio::runtime::Runtime,
    boot: &str,
    keypair: libp2p::identity::Keypair,
) -> shardnet_node::swarm::Client {
    use shardnet_node::swarm::{self, SwarmConfig};
    let boot: libp2p::Multiaddr = boot.parse().unwrap();
    let (client, event_loop, mut events) = rt
        .block_on(async {
            swarm::new(SwarmConfig {
                keypair,
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
                bootstrap: vec![boot],
                known: vec![],
                psk: None,
                metrics: None,
                max_memory: shardnet_node::config::DEFAULT_MAX_MEMORY,
            })
        })
        .unwrap();
    rt.spawn(event_loop.run(futures::future::pending::<()>()));
    rt.spawn(async move { while events.recv().await.is_some() {} });
    client
}
