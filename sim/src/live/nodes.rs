//! The live run's nodes: each one a daemon task in this process with its own
//! data dir, started, stopped (gracefully or as a crash), restarted on the
//! same disk, or added to the swarm as a joiner.

use super::{Driver, DIGEST, HEARTBEAT_MS, REFRESH, SCAN_SECS};
use anyhow::{bail, Context};
use rand::{RngCore, SeedableRng};
use shardnet_node::api::client::ApiClient;
use shardnet_node::config::{NodeConfig, Overrides};
use shardnet_node::daemon::{self, Stop};
use shardnet_node::datadir::DataDir;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Table and blob files each node's store keeps open (RocksDB's floor): 200
/// stores in one process kept 3,041 table files open before the first
/// backup (15 each), and other descriptors than sockets reached 6,100 of
/// the 20,000 after it, most of them RocksDB's (`docs/membership.md`).
const STORE_FILES: i32 = 20;

/// Bootstrap peers a starting node is given.
const BOOT_PEERS: usize = 3;

/// The connection guard's memory bound for a whole live run's process.
const LIVE_MAX_MEMORY: &str = "16GiB";

pub(super) struct LiveNode {
    pub(super) dd: DataDir,
    pub(super) zone: usize,
    pub(super) peer: String,
    /// Its listen address with `/p2p/<id>`, as of its last start (the port
    /// changes with every start).
    pub(super) addr: String,
    pub(super) api: Option<ApiClient>,
    pub(super) stop: Option<oneshot::Sender<Stop>>,
    pub(super) task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub(super) capacity: u64,
    /// Highest repair byte count seen (counters restart with the process).
    pub(super) moved: u64,
    pub(super) moved_base: u64,
}

impl Driver<'_> {
    pub(super) fn add_node(&mut self) -> anyhow::Result<()> {
        let i = self.nodes.len();
        let dd = DataDir::new(self.work.join(format!("node{i}"))).with_store_files(STORE_FILES);
        let mut secret = [0u8; 32];
        rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ ((i as u64 + 1) << 40))
            .fill_bytes(&mut secret);
        let id = libp2p::identity::Keypair::ed25519_from_bytes(secret)
            .context("a node identity from the seed")?;
        dd.set_node_identity(&id)
            .context("writing a node's identity")?;
        dd.init(&self.owner, 0)
            .context("initialising a node's data dir")?;
        let zone = i % self.sc.swarm.zones;
        let mut n = LiveNode {
            dd,
            zone,
            peer: String::new(),
            addr: String::new(),
            api: None,
            stop: None,
            task: None,
            capacity: self.sc.swarm.capacity,
            moved: 0,
            moved_base: 0,
        };
        self.start(&mut n)?;
        self.nodes.push(n);
        Ok(())
    }

    /// Bootstrap peers for a node starting now: up to [`BOOT_PEERS`] running
    /// nodes spread over the start order (the first, the middle, the last).
    /// One bootstrap peer for all, as before, took a connection and a
    /// Kademlia lookup from every joiner at once.
    fn boot_peers(&self) -> Vec<String> {
        let up: Vec<&str> = self
            .up()
            .into_iter()
            .map(|i| self.nodes[i].addr.as_str())
            .filter(|a| !a.is_empty())
            .collect();
        if up.len() <= BOOT_PEERS {
            return up.into_iter().map(str::to_string).collect();
        }
        let mut picked: Vec<String> = (0..BOOT_PEERS)
            .map(|k| up[k * (up.len() - 1) / (BOOT_PEERS - 1)].to_string())
            .collect();
        picked.dedup();
        picked
    }

    /// The nodes' heartbeat period (the same at any size).
    pub(super) fn heartbeat(&self) -> Duration {
        Duration::from_millis(HEARTBEAT_MS)
    }

    pub(super) fn start(&self, n: &mut LiveNode) -> anyhow::Result<()> {
        let root = n.dd.root().to_path_buf();
        let cfg = NodeConfig::load(
            &root,
            Overrides {
                listen: Some(vec!["/ip4/127.0.0.1/tcp/0".into()]),
                bootstrap: Some(self.boot_peers()).filter(|b| !b.is_empty()),
                zone: Some(format!("zone{}", n.zone)),
                capacity: Some(n.capacity.to_string()),
                heartbeat_ms: Some(self.heartbeat().as_millis() as u64),
                membership_refresh_secs: Some(REFRESH.as_secs()),
                membership_digest_secs: Some(DIGEST.as_secs()),
                down_after_secs: Some(self.sc.swarm.down_after.as_secs().max(1)),
                patience_max_secs: Some(self.sc.swarm.patience_max().as_secs().max(1)),
                scan_interval_secs: Some(SCAN_SECS),
                bandwidth_limit: Some(self.sc.swarm.bandwidth.to_string()),
                // Audits paced to the scan, and no vetting: the model has no
                // audits, and a run lasts minutes, not the days vetting takes.
                // Dropped copies still go through quarantine (grace 2 s).
                audit_interval: Some(format!("{SCAN_SECS}s")),
                vetting_proofs: Some(0),
                quarantine_grace: Some("2s".into()),
                // Identities come from the seed (the same placement every
                // run), so they carry no admission work.
                id_difficulty: Some(0),
                // Every node's guard reads this one process's memory: with
                // a hundred nodes in it, 1 GiB would stop all of them
                // taking connections.
                max_memory: Some(LIVE_MAX_MEMORY.into()),
                ..Overrides::default()
            },
        )?;
        // A stale endpoint file from the last run must not be mistaken for this one.
        let _ = std::fs::remove_file(root.join("api.json"));
        let t = Instant::now();
        let spawn = |n: &mut LiveNode| {
            let (tx, rx) = oneshot::channel();
            n.stop = Some(tx);
            n.task = Some(self.rt.spawn(daemon::run_until(
                n.dd.clone(),
                cfg.clone(),
                async move { rx.await.unwrap_or(Stop::Crash) },
                false,
            )));
        };
        spawn(n);
        let api = loop {
            if let Some(c) = ApiClient::connect(&n.dd) {
                break c;
            }
            // After a simulated crash, tasks still finishing may hold the
            // store's lock for a moment: start again until it is free.
            if n.task.as_ref().is_some_and(|t| t.is_finished()) {
                if let Some(Ok(Err(e))) = n.task.take().map(|t| self.rt.block_on(t)) {
                    tracing::debug!(
                        "node in {} failed to start, retrying: {e:#}",
                        root.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
                spawn(n);
            }
            if t.elapsed() > Duration::from_secs(30) {
                bail!("node in {} did not start within 30 s", root.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let st: shardnet_node::api::NodeStatus = api.get("/v1/status")?;
        n.addr = match st.listen.first() {
            Some(a) => format!("{a}/p2p/{}", st.peer_id),
            None => String::new(),
        };
        n.peer = st.peer_id;
        n.api = Some(api);
        n.moved_base = n.moved;
        Ok(())
    }

    pub(super) fn stop(&mut self, i: usize, how: Stop) {
        let n = &mut self.nodes[i];
        n.api = None;
        if let Some(tx) = n.stop.take() {
            let _ = tx.send(how);
        }
        if let Some(task) = n.task.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(15), task).await });
        }
    }

    pub(super) fn stop_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i, Stop::Graceful);
        }
    }

    pub(super) fn up(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].api.is_some())
            .collect()
    }

    pub(super) fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let mut n = std::mem::replace(&mut self.nodes[i], placeholder());
        let r = self.start(&mut n);
        self.nodes[i] = n;
        r
    }
}

fn placeholder() -> LiveNode {
    LiveNode {
        dd: DataDir::new(PathBuf::new()),
        zone: 0,
        peer: String::new(),
        addr: String::new(),
        api: None,
        stop: None,
        task: None,
        capacity: 0,
        moved: 0,
        moved_base: 0,
    }
}

/// Deletes a crashed node's data dir (its disk is lost). The node's tasks
/// were aborted, but the last of them (and RocksDB's background threads) may
/// still write for a moment, which makes one removal fail: try for 5 s.
pub(super) fn remove_lost_disk(root: &Path) {
    let t = Instant::now();
    while root.exists() && t.elapsed() < Duration::from_secs(5) {
        let _ = std::fs::remove_dir_all(root);
        if root.exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
