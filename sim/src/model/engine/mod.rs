//! The event loop of model mode and its events; the world, repair and
//! metrics steps live in the submodules.

mod liars;
mod metrics;
mod ranks;
mod scan;
mod silence;
mod world;

use super::state::{Backup, Node, NodeState, Shard};
use crate::report::Report;
use crate::scenario::{Action, Scenario};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use shardnet_protocol::placement::Key;
use shardnet_protocol::placement_index::PlacementIndex;
use shardnet_protocol::{ShardId, Tier};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

const DAY_MS: f64 = 86_400_000.0;
const YEAR_MS: f64 = 365.0 * DAY_MS;

/// A starting point taken from elsewhere (a live run), instead of generated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layout {
    pub nodes: Vec<LayoutNode>,
    pub backups: Vec<LayoutBackup>,
    /// Nodes that joined later, in order: scripted joins take these keys.
    pub joiners: Vec<LayoutNode>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayoutNode {
    pub key: Key,
    pub zone: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayoutBackup {
    pub tier: Tier,
    /// (shard, size, nodes holding it)
    pub shards: Vec<(ShardId, u64, Vec<usize>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Script(usize),
    Join,
    Depart(u32),
    Outage,
    OutageEnd(u32, u32),
    ZoneOutage,
    ZoneUp(usize),
    Down(u32, u32),
    /// A silent node's holders below their floor stop waiting for it.
    Urgent(u32, u32),
    Corruption,
    Detect(u32),
    /// Co-holders audit (shard, node)'s copy.
    Audit(u32, u32),
    Transfer {
        shard: u32,
        src: u32,
        dst: u32,
        /// A move: a holder outside the responsible set still has the
        /// copy (a joiner took its place, or it drains), not a repair.
        handoff: bool,
    },
    Sample,
}

struct Sim<'a> {
    sc: &'a Scenario,
    zone_aware: bool,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    nodes: Vec<Node>,
    shards: Vec<Shard>,
    backups: Vec<Backup>,
    /// Shard indices sorted by id, for the shards near a joining node.
    by_id: Vec<u32>,
    /// The first 64 bits of each id in `by_id`, for searching without
    /// reading the shards.
    by_id_prefix: Vec<u64>,
    joiners: std::collections::VecDeque<LayoutNode>,
    max_copies: usize,
    index: Option<PlacementIndex<u32>>,
    /// Responsible sets kept between the changes that could move them.
    ranks: ranks::Ranks,
    report: Report,
    repair_bytes: u64,
    /// Of `repair_bytes`, what handoffs moved (copies a holder outside the
    /// responsible set still had: joiners, drains).
    handoff_bytes: u64,
    below_hours: Vec<f64>,
    events: u64,
    node_ms: f64,
    /// Nodes up now (kept as states change: counting them per event took a
    /// fifth of a 10,000-node run).
    up_count: usize,
    last_t: u64,
    isolation_hours_sum: f64,
    /// Membership changes a change-only design would spread (joins, drains,
    /// leaves, silences, returns, downs), and the direct checks co-holders
    /// would make before acting on one (`docs/membership.md`).
    membership_changes: u64,
    membership_checks: u64,
}

/// Runs `sc` in model mode. `zone_aware` overrides the scenario's placement;
/// `layout` replaces the generated start (nodes and placed backups).
pub fn run(sc: &Scenario, seed: u64, zone_aware: bool, layout: Option<&Layout>) -> Report {
    run_with_progress(
        sc,
        seed,
        zone_aware,
        layout,
        &indicatif::ProgressBar::hidden(),
    )
}

/// [`run`], moving `progress` along in simulated seconds.
pub fn run_with_progress(
    sc: &Scenario,
    seed: u64,
    zone_aware: bool,
    layout: Option<&Layout>,
    progress: &indicatif::ProgressBar,
) -> Report {
    let wall = Instant::now();
    let mut s = Sim {
        sc,
        zone_aware,
        rng: ChaCha8Rng::seed_from_u64(seed),
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        nodes: Vec::new(),
        shards: Vec::new(),
        backups: Vec::new(),
        by_id: Vec::new(),
        by_id_prefix: Vec::new(),
        max_copies: 1,
        joiners: layout
            .map(|l| l.joiners.iter().cloned().collect())
            .unwrap_or_default(),
        index: None,
        ranks: ranks::Ranks::default(),
        report: Report {
            scenario: sc.name.clone(),
            mode: "model".into(),
            seed,
            placement: if zone_aware {
                "zone-aware"
            } else {
                "plain XOR"
            }
            .into(),
            ..Report::default()
        },
        repair_bytes: 0,
        handoff_bytes: 0,
        below_hours: vec![0.0; Tier::ALL.len()],
        events: 0,
        node_ms: 0.0,
        up_count: 0,
        last_t: 0,
        isolation_hours_sum: 0.0,
        membership_changes: 0,
        membership_checks: 0,
    };
    match layout {
        Some(l) => s.load(l),
        None => s.generate(),
    }
    s.report.nodes_start = s.nodes.len();
    s.count_liar_only();
    s.schedule_processes();
    for (i, e) in sc.events.iter().enumerate() {
        s.at(e.at.as_millis() as u64, Ev::Script(i));
    }
    s.at(0, Ev::Sample);
    let end = sc.duration.as_millis() as u64;
    while let Some(Reverse((t, _, ev))) = s.queue.pop() {
        if t > end {
            break;
        }
        s.advance(t);
        s.events += 1;
        s.handle(ev);
        if s.events.is_multiple_of(4096) {
            progress.set_position(t / 1000);
        }
    }
    s.advance(end);
    s.sample();
    s.finish(wall.elapsed().as_secs_f64())
}

impl Sim<'_> {
    fn at(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, ev)));
    }

    fn after_exp(&mut self, mean_ms: f64, ev: Ev) {
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let dt = (-u.ln() * mean_ms).min(1e15) as u64;
        self.at(self.now.saturating_add(dt.max(1)), ev);
    }

    fn advance(&mut self, t: u64) {
        self.node_ms += (t - self.now) as f64 * self.up_count as f64;
        self.now = t;
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Sample => {
                self.sample();
                let dt = self.sc.sample_interval().as_millis() as u64;
                self.at(self.now + dt.max(1), Ev::Sample);
            }
            Ev::Script(i) => self.script(i),
            Ev::Join => {
                self.join(1, false);
                let mean = DAY_MS / self.sc.churn.joins_per_day;
                self.after_exp(mean, Ev::Join);
            }
            Ev::Depart(n) => {
                if self.nodes[n as usize].state == NodeState::Up {
                    if self.rng.gen_bool(self.sc.churn.graceful_fraction) {
                        self.drain(n);
                    } else {
                        self.report.crashes += 1;
                        self.go_offline(n, false);
                    }
                }
            }
            Ev::Outage => {
                // A random online node (rejection sampling: most nodes are up).
                let pick = (0..64)
                    .map(|_| self.rng.gen_range(0..self.nodes.len().max(1)) as u32)
                    .find(|&n| self.nodes.get(n as usize).is_some_and(|x| x.up()));
                if let Some(n) = pick {
                    self.report.outages += 1;
                    self.go_offline(n, true);
                    let epoch = self.nodes[n as usize].epoch;
                    let mean = self.sc.churn.outage_mean.as_millis() as f64;
                    self.after_exp(mean, Ev::OutageEnd(n, epoch));
                }
                let rate = self.sc.churn.outages_per_node_per_day * self.up_count.max(1) as f64;
                self.after_exp(DAY_MS / rate, Ev::Outage);
            }
            Ev::OutageEnd(n, epoch) => {
                if self.nodes[n as usize].epoch == epoch {
                    self.come_back(n);
                }
            }
            Ev::ZoneOutage => {
                let z = self.rng.gen_range(0..self.sc.swarm.zones);
                self.report.zone_outages += 1;
                self.zone_down(z);
                let mean = self.sc.churn.zone_outage_mean.as_millis() as f64;
                self.after_exp(mean, Ev::ZoneUp(z));
                self.after_exp(DAY_MS / self.sc.churn.zone_outages_per_day, Ev::ZoneOutage);
            }
            Ev::ZoneUp(z) => self.zone_up(z),
            Ev::Down(n, epoch) => {
                let node = &mut self.nodes[n as usize];
                let NodeState::Offline { disk, .. } = node.state else {
                    return;
                };
                if node.epoch != epoch {
                    return;
                }
                self.membership_changes += 1;
                node.state = if disk {
                    NodeState::Offline { down: true, disk }
                } else {
                    NodeState::Gone
                };
                let mut list: Vec<u32> = node.holdings.iter().copied().collect();
                list.append(&mut node.lost_holdings);
                self.sync(n);
                self.evaluate_affected(n, list);
            }
            Ev::Urgent(n, epoch) => {
                let node = &self.nodes[n as usize];
                if node.epoch == epoch
                    && matches!(node.state, NodeState::Offline { down: false, .. })
                {
                    let mut list: Vec<u32> = node.holdings.iter().copied().collect();
                    list.extend(node.lost_holdings.iter().copied());
                    self.evaluate_all(list);
                }
            }
            Ev::Corruption => {
                if !self.shards.is_empty() {
                    let s = self.rng.gen_range(0..self.shards.len()) as u32;
                    let holders = self.shards[s as usize].holders.clone();
                    if !holders.is_empty() {
                        let n = holders[self.rng.gen_range(0..holders.len())];
                        self.corrupt(s, n);
                    }
                }
                self.schedule_corruption();
            }
            Ev::Detect(s) => self.evaluate(s),
            Ev::Audit(s, n) => self.audit(s, n),
            Ev::Transfer {
                shard,
                src,
                dst,
                handoff,
            } => self.transfer_done(shard, src, dst, handoff),
        }
    }

    fn script(&mut self, i: usize) {
        match self.sc.events[i].action.clone() {
            Action::Crash { nodes } => {
                for n in nodes {
                    if n < self.nodes.len() && self.nodes[n].state != NodeState::Gone {
                        self.report.crashes += 1;
                        self.go_offline(n as u32, false);
                    }
                }
            }
            Action::Join { count, liars } => self.join(count, liars),
            Action::Leave { nodes } => {
                for n in nodes {
                    if n < self.nodes.len() {
                        // A graceful stop that never returns: suspect, then down.
                        self.report.graceful_departures += 1;
                        self.go_offline(n as u32, true);
                    }
                }
            }
            Action::Drain { nodes } => {
                for n in nodes {
                    if n < self.nodes.len() && self.nodes[n].up() {
                        self.drain(n as u32);
                    }
                }
            }
            Action::ZoneDown { zone } => {
                self.report.zone_outages += 1;
                self.zone_down(zone);
            }
            Action::ZoneUp { zone } => self.zone_up(zone),
            Action::Corrupt { node, shards } => {
                if node < self.nodes.len() {
                    let held: Vec<u32> = self.nodes[node].holdings.iter().copied().collect();
                    for k in 0..shards.min(held.len()) {
                        let s = held[(k * held.len()) / shards.min(held.len())];
                        self.corrupt(s, node as u32);
                    }
                }
            }
            Action::Fill { node } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    // As the node restarted at what it holds: its smaller
                    // weight moves some of its places to others.
                    n.capacity = n.used;
                    let keys = n.vkeys.clone();
                    let held: Vec<u32> = n.holdings.iter().copied().collect();
                    self.sync(node as u32);
                    let mut list = self.shards_near(&keys);
                    list.extend(held);
                    self.evaluate_affected(node as u32, list);
                }
            }
            Action::Restore => {
                self.report.restores_attempted += self.backups.len() as u64;
                self.report.restores_ok += self.available_backups();
            }
        }
    }
}
