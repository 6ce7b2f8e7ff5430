//! Live mode: the scenario on real nodes in this process. Each node is the
//! node crate's daemon (`daemon::run_until`): its own libp2p swarm on
//! 127.0.0.1, its own RocksDB store in a temp dir, its own control API. The
//! driver talks to them only through that API, as an operator would.
//!
//! Events map onto real actions: `crash` stops a node without a word and
//! deletes its data dir (the disk is lost); `leave` stops it gracefully;
//! `drain` calls the drain endpoint; `zone_down` crashes every node of the
//! zone but keeps their disks, and `zone_up` starts them again (the rest of
//! the swarm sees the same as a partition); `corrupt` stops the node,
//! overwrites shard bytes in its store and marks them as a scrub that found
//! them would, then restarts it; `fill` restarts the node with its
//! capacity at what it holds; `restore` restores every backup on a node that
//! has only imported the owner key and compares the bytes.
//!
//! Random churn processes are model-only; a live run refuses a scenario that
//! sets them rather than ignore them.

mod events;
mod measure;
mod nodes;
mod traffic;

use nodes::LiveNode;

use crate::model::{Layout, LayoutBackup, LayoutNode};
use crate::report::Report;
use crate::scenario::{Action, Scenario};
use anyhow::{bail, Context};
use rand::{RngCore, SeedableRng};
use shardnet_node::ops::CreateRequest;
use shardnet_protocol::placement::peer_key;
use shardnet_protocol::{Cipher, MasterKey, ShardId, Tier};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Shard id -> (node numbers holding a healthy copy, copies wanted, size).
type Census = BTreeMap<String, (Vec<usize>, usize, u64)>;

/// The nodes' heartbeat period at any size: a node checks its heartbeat for
/// changes and probes its quiet ring neighbours once a period, which costs
/// the same per node in any swarm (scenarios set `down_after` above 5
/// periods). Before heartbeats travelled only on change, every heartbeat
/// reached every node about six times and the period had to grow with
/// nodes² (16 s at 200 nodes).
const HEARTBEAT_MS: u64 = 1000;
/// Nodes started before the driver waits for the swarm to converge.
const JOIN_WAVE: usize = 25;
/// How often an unchanged node republishes its heartbeat: longer than any
/// live run, so the quiet window measures what does not grow with the swarm
/// (probes, changes, digests, pings, Kademlia, gossip control). The refresh,
/// which does, is added to the projection at the node's default period and
/// the per-heartbeat cost measured before (`MembershipTraffic::projected`).
/// Liveness then rests where a node's default puts it: on ring probes, on
/// failed dials and on audits.
pub(crate) const REFRESH: Duration = Duration::from_secs(3600);
/// How often a node reconciles its member list by digest: 30 times the
/// node's default, so that a run of minutes both heals missed joins with it
/// and measures it (an upper bound on its cost).
pub(crate) const DIGEST: Duration = Duration::from_secs(20);
const SCAN_SECS: u64 = 2;
/// Swarms from this size measure membership traffic over `MEASURED_WINDOW`.
const MEASURED_SWARM: usize = 20;
/// The quiet window of a measured swarm: three digest rounds and sixty
/// heartbeat periods.
const MEASURED_WINDOW: Duration = Duration::from_secs(60);
/// Shortest quiet window over which membership traffic is measured.
const TRAFFIC_WINDOW: Duration = Duration::from_secs(10);
/// Longest wait at the end for the swarm to finish its moves.
const SETTLE_MAX: Duration = Duration::from_secs(30);

struct Driver<'a> {
    sc: &'a Scenario,
    rt: tokio::runtime::Runtime,
    work: PathBuf,
    nodes: Vec<LiveNode>,
    owner: MasterKey,
    seed: u64,
    /// (backup id, tier, source dir, shard ids)
    backups: Vec<(ShardId, Tier, PathBuf, BTreeSet<String>)>,
    /// Shard-hours below target per tier (order of `Tier::ALL`), and when last sampled.
    below_hours: [f64; 4],
    last_sample: Option<Duration>,
}

/// Runs `sc` on real nodes. Returns the report and the layout right after the
/// initial backups (for running the model from the same start).
pub fn run(sc: &Scenario, seed: u64, work: &Path) -> anyhow::Result<(Report, Layout)> {
    let c = &sc.churn;
    if c.joins_per_day > 0.0
        || c.mean_lifetime.is_some()
        || c.outages_per_node_per_day > 0.0
        || c.zone_outages_per_day > 0.0
        || c.corruption_per_copy_per_year > 0.0
    {
        bail!("scenario {:?} sets random churn ([churn]), which only model mode runs; use scripted [[events]] for live mode", sc.name);
    }
    if sc.swarm.trusted > 0 {
        bail!("scenario {:?} sets swarm.trusted: live mode vets every node at once (a run lasts minutes, not the days vetting takes), so trust anchors change nothing there; run it in model mode (tests/e2e_liars.rs runs anchors on real nodes)", sc.name);
    }
    let wall = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut d = Driver {
        sc,
        rt,
        work: work.to_path_buf(),
        nodes: Vec::new(),
        // From the seed, like the nodes' identities: data shards are
        // content-addressed under the owner key, so a seed places them the
        // same way every run (only the few manifest pieces vary).
        owner: MasterKey::generate(&mut rng),
        seed,
        backups: Vec::new(),
        below_hours: [0.0; 4],
        last_sample: None,
    };
    let result = d.drive(&mut rng, seed, wall);
    d.stop_all();
    result
}

impl Driver<'_> {
    fn drive(
        &mut self,
        rng: &mut rand_chacha::ChaCha8Rng,
        seed: u64,
        wall: Instant,
    ) -> anyhow::Result<(Report, Layout)> {
        eprintln!("live: starting {} nodes...", self.sc.swarm.nodes);
        // In waves, each joining a swarm that has settled: a real swarm
        // grows, it does not start 200 nodes in one second, and every
        // joiner's Kademlia bootstrap (about 300 lookups at 200 nodes) and
        // member pull land on the nodes already there.
        for i in 0..self.sc.swarm.nodes {
            self.add_node()?;
            if (i + 1) % JOIN_WAVE == 0 && i + 1 < self.sc.swarm.nodes {
                self.converge(Duration::from_secs(120))?;
            }
        }
        self.converge(Duration::from_secs(120))?;
        eprintln!(
            "live: {} nodes see each other after {:.1} s",
            self.nodes.len(),
            wall.elapsed().as_secs_f64()
        );
        let heartbeat = self.heartbeat();
        // Small swarms (tests of repair, not of membership's cost) keep the
        // short window.
        let window = if self.nodes.len() >= MEASURED_SWARM {
            MEASURED_WINDOW
        } else {
            TRAFFIC_WINDOW
        };
        let membership = self.membership_traffic(window, heartbeat)?;
        if let Some(m) = &membership {
            eprintln!(
                "live: membership traffic {:.1} KB/s sent per node, {:.1} connections per node",
                m.bytes_per_node_sec / 1e3,
                m.connections_mean
            );
        }
        for spec in self.sc.backups.clone() {
            for k in 0..spec.count {
                self.backup(rng, spec.tier, spec.size, k)?;
            }
        }
        let mut layout = self.layout()?;
        let initial = self.nodes.len();
        eprintln!(
            "live: backups placed; running {:?} of events",
            self.sc.duration
        );
        let mut report = Report {
            scenario: self.sc.name.clone(),
            mode: "live".into(),
            seed,
            placement: "zone-aware".into(),
            policy: crate::scenario::Policy::Lazy.name().into(),
            redundancy: "replicate".into(),
            nodes_start: self.nodes.len(),
            membership,
            logical_bytes: self
                .sc
                .backups
                .iter()
                .map(|b| b.size * b.count as u64)
                .sum(),
            ..Report::default()
        };
        let mut events: Vec<(Duration, Action)> = self
            .sc
            .events
            .iter()
            .map(|e| (e.at, e.action.clone()))
            .collect();
        events.sort_by_key(|e| e.0);
        let mut events = events.into_iter().peekable();
        let start = Instant::now();
        let every = self.sc.sample_interval();
        let mut next_sample = Duration::ZERO;
        loop {
            let t = start.elapsed();
            while events.peek().is_some_and(|(at, _)| *at <= t) {
                if let Some((at, a)) = events.next() {
                    eprintln!(
                        "live: t={:.1}s {}",
                        at.as_secs_f64(),
                        crate::scenario::kind(&a)
                    );
                    self.apply(&a, &mut report)?;
                }
            }
            if t >= next_sample {
                let s = self.sample(t)?;
                report.series.push(s);
                next_sample = t + every;
            }
            if t >= self.sc.duration {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        report.settle_secs = self.settle()?.as_secs_f64();
        self.finish(&mut report, wall)?;
        layout.joiners = self.layout_nodes()?.split_off(initial);
        Ok((report, layout))
    }

    fn converge(&self, limit: Duration) -> anyhow::Result<()> {
        let want = self.up().len();
        let t = Instant::now();
        for i in self.up() {
            let api = self.nodes[i].api.as_ref().context("node stopped")?;
            loop {
                let peers: Vec<shardnet_node::membership::PeerInfo> = api.get("/v1/peers")?;
                let seen = peers.iter().filter(|p| p.live).count();
                if seen >= want {
                    break;
                }
                if t.elapsed() > limit {
                    bail!("the swarm did not converge within {limit:?}: node {i} sees {seen} of {want} nodes live");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    fn backup(
        &mut self,
        rng: &mut rand_chacha::ChaCha8Rng,
        tier: Tier,
        size: u64,
        k: usize,
    ) -> anyhow::Result<()> {
        let src = self
            .work
            .join(format!("src-{}-{k}-{}", tier.name(), self.backups.len()));
        std::fs::create_dir_all(&src)?;
        let mut data = vec![0u8; size as usize];
        rng.fill_bytes(&mut data);
        std::fs::write(src.join("data.bin"), &data)?;
        let before: BTreeSet<String> = self.census()?.into_keys().collect();
        let api = self.nodes[0]
            .api
            .as_ref()
            .context("node 0 is not running")?;
        let r: shardnet_node::backup::BackupReport = api.post(
            "/v1/backup/create",
            &CreateRequest {
                paths: vec![src.clone()],
                tier,
                name: format!("sim {} {k}", tier.name()),
                cipher: Cipher::Aes256Gcm,
                redundancy: None,
            },
        )?;
        let after: BTreeSet<String> = self.census()?.into_keys().collect();
        let mine = after.difference(&before).cloned().collect();
        self.backups.push((r.entry.id, tier, src, mine));
        Ok(())
    }

    fn layout_nodes(&self) -> anyhow::Result<Vec<LayoutNode>> {
        self.nodes
            .iter()
            .map(|n| {
                let id: libp2p::PeerId = n.peer.parse().context("bad peer id")?;
                Ok(LayoutNode {
                    key: peer_key(&id.to_bytes()),
                    zone: n.zone,
                })
            })
            .collect()
    }

    fn layout(&self) -> anyhow::Result<Layout> {
        let census = self.census()?;
        let nodes = self.layout_nodes()?;
        let backups = self
            .backups
            .iter()
            .map(|(_, tier, _, ids)| LayoutBackup {
                tier: *tier,
                shards: ids
                    .iter()
                    .filter_map(|id| {
                        let (on, _, size) = census.get(id)?;
                        Some((id.parse().ok()?, *size, on.clone()))
                    })
                    .collect(),
            })
            .collect();
        Ok(Layout {
            nodes,
            backups,
            joiners: Vec::new(),
        })
    }
}
