//! The event loop of model mode, its events and the repair step.

use super::state::{Backup, Node, NodeState, Shard};
use crate::report::{spread, Report, Sample, TierOutcome};
use crate::scenario::{Action, Scenario};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use shardnet_protocol::placement::{self, Candidate, Key};
use shardnet_protocol::placement_index::PlacementIndex;
use shardnet_protocol::repair;
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
    Corruption,
    Detect(u32),
    Transfer { shard: u32, src: u32, dst: u32 },
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
    joiners: std::collections::VecDeque<LayoutNode>,
    max_copies: usize,
    index: Option<PlacementIndex<u32>>,
    report: Report,
    repair_bytes: u64,
    below_hours: Vec<f64>,
    events: u64,
    node_ms: f64,
    last_t: u64,
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
        max_copies: 1,
        joiners: layout
            .map(|l| l.joiners.iter().cloned().collect())
            .unwrap_or_default(),
        index: None,
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
        below_hours: vec![0.0; Tier::ALL.len()],
        events: 0,
        node_ms: 0.0,
        last_t: 0,
    };
    match layout {
        Some(l) => s.load(l),
        None => s.generate(),
    }
    s.report.nodes_start = s.nodes.len();
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
        let up = self.nodes.iter().filter(|n| n.up()).count();
        self.node_ms += (t - self.now) as f64 * up as f64;
        self.now = t;
    }

    fn new_node(&mut self, key: Key, zone: usize) -> u32 {
        self.nodes.push(Node {
            key,
            zone,
            capacity: self.sc.swarm.capacity,
            used: 0,
            state: NodeState::Up,
            draining: false,
            epoch: 0,
            up_free: 0,
            down_free: 0,
            sent: 0,
            holdings: Default::default(),
            lost_holdings: Vec::new(),
            wanted: Default::default(),
        });
        let n = (self.nodes.len() - 1) as u32;
        if let Some(l) = self.sc.churn.mean_lifetime {
            self.after_exp(l.as_millis() as f64, Ev::Depart(n));
        }
        self.sync(n);
        self.report.nodes_peak = self.report.nodes_peak.max(self.count_live());
        n
    }

    fn count_live(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .count()
    }

    fn generate(&mut self) {
        let seed_tag: u64 = self.rng.gen();
        for i in 0..self.sc.swarm.nodes {
            let key =
                placement::peer_key(&[seed_tag.to_le_bytes(), (i as u64).to_le_bytes()].concat());
            self.new_node(key, i % self.sc.swarm.zones);
        }
        let shard_size = self.sc.swarm.shard_size;
        for spec in self.sc.backups.clone() {
            for _ in 0..spec.count {
                let count = spec.size.div_ceil(shard_size);
                let b = self.backups.len() as u32;
                let mut ids = Vec::with_capacity(count as usize);
                for j in 0..count {
                    let size = shard_size.min(spec.size - j * shard_size);
                    let id = ShardId(self.rng.gen());
                    ids.push(self.add_shard(id, size, spec.tier, b));
                }
                self.backups.push(Backup {
                    tier: spec.tier,
                    shards: ids.clone(),
                    lost: false,
                });
                for s in ids {
                    self.place_new(s);
                }
            }
        }
        self.finish_setup();
    }

    fn load(&mut self, l: &Layout) {
        for n in &l.nodes {
            self.new_node(n.key, n.zone);
        }
        for lb in &l.backups {
            let b = self.backups.len() as u32;
            let mut ids = Vec::new();
            for (id, size, on) in &lb.shards {
                let s = self.add_shard(*id, *size, lb.tier, b);
                for &n in on {
                    self.add_copy(s, n as u32);
                }
                ids.push(s);
            }
            self.backups.push(Backup {
                tier: lb.tier,
                shards: ids,
                lost: false,
            });
        }
        self.finish_setup();
    }

    fn finish_setup(&mut self) {
        let mut by_id: Vec<u32> = (0..self.shards.len() as u32).collect();
        by_id.sort_by_key(|&s| self.shards[s as usize].id);
        self.by_id = by_id;
        self.max_copies = self.shards.iter().map(|s| s.copies).max().unwrap_or(1);
        self.report.logical_bytes = self.shards.iter().map(|s| s.size).sum();
    }

    fn add_shard(&mut self, id: ShardId, size: u64, tier: Tier, backup: u32) -> u32 {
        self.shards.push(Shard {
            id,
            size,
            copies: tier.copies() as usize,
            backup,
            holders: Vec::new(),
            pending: Vec::new(),
            lost: false,
        });
        (self.shards.len() - 1) as u32
    }

    /// A new shard goes straight to its responsible set (what a backup does),
    /// skipping peers without room.
    fn place_new(&mut self, s: u32) {
        let (id, size, copies) = {
            let sh = &self.shards[s as usize];
            (sh.id, sh.size, sh.copies)
        };
        for n in self.responsible(&id, size, copies) {
            let node = &self.nodes[n as usize];
            if node.up() && node.used + size <= node.capacity {
                self.add_copy(s, n);
            }
        }
    }

    fn add_copy(&mut self, s: u32, n: u32) {
        let sh = &mut self.shards[s as usize];
        if !sh.holders.contains(&n) {
            sh.holders.push(n);
            let node = &mut self.nodes[n as usize];
            node.used += sh.size;
            node.holdings.insert(s);
            node.wanted.remove(&s);
        }
    }

    fn drop_copy(&mut self, s: u32, n: u32) {
        let sh = &mut self.shards[s as usize];
        if let Some(p) = sh.holders.iter().position(|&h| h == n) {
            sh.holders.swap_remove(p);
            let node = &mut self.nodes[n as usize];
            node.used = node.used.saturating_sub(sh.size);
            node.holdings.remove(&s);
        }
        if sh.holders.is_empty() && !sh.lost {
            sh.lost = true;
            let b = sh.backup as usize;
            self.backups[b].lost = true;
        }
    }

    fn candidate(&self, i: u32) -> Candidate<u32> {
        let n = &self.nodes[i as usize];
        Candidate {
            peer: i,
            key: n.key,
            zone: if self.zone_aware {
                n.zone.to_string()
            } else {
                String::new()
            },
            // As the node's repair candidates: fill does not decide
            // responsibility; it only stops transfers (see `target_ok`).
            capacity: u64::MAX,
            used: 0,
            draining: n.draining,
            isolated: false,
            radius: None,
        }
    }

    /// Brings node `n`'s entry in the placement index up to date.
    fn sync(&mut self, n: u32) {
        let c = self.candidate(n);
        let in_view = self.nodes[n as usize].in_view();
        if let Some(index) = self.index.as_mut() {
            if in_view {
                index.upsert(c);
            } else {
                index.remove(&c.key);
            }
        }
    }

    fn responsible(&mut self, id: &ShardId, size: u64, copies: usize) -> Vec<u32> {
        if self.index.is_none() {
            let cands: Vec<Candidate<u32>> = (0..self.nodes.len() as u32)
                .filter(|&i| self.nodes[i as usize].in_view())
                .map(|i| self.candidate(i))
                .collect();
            self.index = Some(PlacementIndex::new(cands));
        }
        self.index
            .as_ref()
            .map(|i| i.responsible_set(id, size, copies))
            .unwrap_or_default()
    }

    /// One repair scan of one shard, as the holders would run it.
    fn evaluate(&mut self, s: u32) {
        if self.shards[s as usize].lost {
            return;
        }
        let (id, size, copies) = {
            let sh = &self.shards[s as usize];
            (sh.id, sh.size, sh.copies)
        };
        let resp = self.responsible(&id, size, copies);
        let sh = &self.shards[s as usize];
        let online: Vec<u32> = sh
            .holders
            .iter()
            .copied()
            .filter(|&h| self.nodes[h as usize].up())
            .collect();
        let confirmed: Vec<u32> = online
            .iter()
            .copied()
            .filter(|h| resp.contains(h))
            .collect();
        // The coordinator: first responsible holder, else the first holder.
        let Some(coord) = resp
            .iter()
            .copied()
            .find(|p| confirmed.contains(p))
            .or_else(|| online.first().copied())
        else {
            return;
        };
        for &p in &resp {
            if !confirmed.contains(&p) {
                self.nodes[p as usize].wanted.insert(s);
            }
        }
        let sh = &self.shards[s as usize];
        let others: Vec<u32> = confirmed.iter().copied().filter(|&h| h != coord).collect();
        let pending = sh.pending.clone();
        let nodes = &self.nodes;
        let target_ok = |p: &u32| {
            let n = &nodes[*p as usize];
            n.up() && !n.draining && n.used + size <= n.capacity && !pending.contains(p)
        };
        let d = repair::decide(&coord, &resp, &others, target_ok, copies);
        tracing::trace!(t = self.now, shard = s, ?resp, ?online, coord, send = ?d.send_to, "evaluate");
        for to in d.send_to {
            self.start_transfer(s, coord, to);
        }
        for h in online {
            if resp.contains(&h) {
                continue;
            }
            let rest: Vec<u32> = confirmed.iter().copied().filter(|&x| x != h).collect();
            let d = repair::decide(&h, &resp, &rest, |_| false, copies);
            if d.drop_local {
                self.drop_copy(s, h);
                self.maybe_gone(h);
            }
        }
    }

    fn start_transfer(&mut self, s: u32, src: u32, dst: u32) {
        let size = self.shards[s as usize].size;
        let dur = (size as f64 * 1000.0 / self.sc.swarm.bandwidth as f64).ceil() as u64;
        let start = self
            .now
            .max(self.nodes[src as usize].up_free)
            .max(self.nodes[dst as usize].down_free);
        self.nodes[src as usize].up_free = start + dur;
        self.nodes[dst as usize].down_free = start + dur;
        self.shards[s as usize].pending.push(dst);
        self.at(start + dur, Ev::Transfer { shard: s, src, dst });
    }

    fn transfer_done(&mut self, s: u32, src: u32, dst: u32) {
        self.shards[s as usize].pending.retain(|&p| p != dst);
        let ok = self.shards[s as usize].holders.contains(&src)
            && self.nodes[dst as usize].up()
            && self.nodes[src as usize].state != NodeState::Gone;
        if ok {
            let size = self.shards[s as usize].size;
            self.add_copy(s, dst);
            self.repair_bytes += size;
            self.nodes[src as usize].sent += size;
        }
        self.evaluate(s);
    }

    /// A draining node with nothing left leaves.
    fn maybe_gone(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.draining && node.holdings.is_empty() && node.state != NodeState::Gone {
            node.state = NodeState::Gone;
            self.sync(n);
        }
    }

    /// Node `n` left or re-entered the responsible sets: the shards it holds
    /// (passed in) and those it was responsible for without holding them are
    /// re-checked, as every holder's scan would on that membership change.
    fn evaluate_affected(&mut self, n: u32, mut list: Vec<u32>) {
        list.extend(self.nodes[n as usize].wanted.iter().copied());
        list.sort_unstable();
        list.dedup();
        self.evaluate_all(list);
    }

    fn evaluate_all(&mut self, list: Vec<u32>) {
        for s in list {
            self.evaluate(s);
        }
    }

    fn go_offline(&mut self, n: u32, disk: bool) {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Up {
            if !disk {
                // Already offline: the disk dies too.
                self.crash_disk(n);
            }
            return;
        }
        node.state = NodeState::Offline { down: false, disk };
        node.epoch += 1;
        let (epoch, down_after) = (node.epoch, self.sc.swarm.down_after.as_millis() as u64);
        if !disk {
            self.crash_disk(n);
        }
        self.at(self.now + down_after, Ev::Down(n, epoch));
    }

    fn crash_disk(&mut self, n: u32) {
        let held: Vec<u32> = self.nodes[n as usize].holdings.iter().copied().collect();
        for &s in &held {
            self.drop_copy(s, n);
        }
        let node = &mut self.nodes[n as usize];
        node.lost_holdings.extend(held);
        if let NodeState::Offline { down, .. } = node.state {
            node.state = NodeState::Offline { down, disk: false };
        }
    }

    fn come_back(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if let NodeState::Offline { down, disk: true } = node.state {
            node.state = NodeState::Up;
            node.epoch += 1;
            let held: Vec<u32> = node.holdings.iter().copied().collect();
            if down {
                self.sync(n);
                self.evaluate_affected(n, held);
            } else {
                self.evaluate_all(held);
            }
        }
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
                self.join(1);
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
                let up = self.nodes.iter().filter(|n| n.up()).count();
                let rate = self.sc.churn.outages_per_node_per_day * up.max(1) as f64;
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
            Ev::Transfer { shard, src, dst } => self.transfer_done(shard, src, dst),
        }
    }

    fn corrupt(&mut self, s: u32, n: u32) {
        self.report.corruptions += 1;
        self.drop_copy(s, n);
        let scrub = self.sc.churn.scrub_interval.as_millis() as u64;
        let t = self.now + self.rng.gen_range(0..scrub.max(1));
        self.at(t, Ev::Detect(s));
    }

    fn schedule_corruption(&mut self) {
        let copies: usize = self.shards.iter().map(|s| s.holders.len()).sum();
        let rate = self.sc.churn.corruption_per_copy_per_year * copies.max(1) as f64;
        if rate > 0.0 {
            self.after_exp(YEAR_MS / rate, Ev::Corruption);
        }
    }

    fn schedule_processes(&mut self) {
        let c = self.sc.churn.clone();
        if c.joins_per_day > 0.0 {
            self.after_exp(DAY_MS / c.joins_per_day, Ev::Join);
        }
        if c.outages_per_node_per_day > 0.0 {
            let rate = c.outages_per_node_per_day * self.nodes.len().max(1) as f64;
            self.after_exp(DAY_MS / rate, Ev::Outage);
        }
        if c.zone_outages_per_day > 0.0 {
            self.after_exp(DAY_MS / c.zone_outages_per_day, Ev::ZoneOutage);
        }
        self.schedule_corruption();
    }

    fn join(&mut self, count: usize) {
        for _ in 0..count {
            let i = self.nodes.len();
            let (key, zone) = match self.joiners.pop_front() {
                Some(j) => (j.key, j.zone),
                None => {
                    let tag: [u8; 8] = self.rng.gen();
                    let key = placement::peer_key(
                        &[b"join".as_slice(), &(i as u64).to_le_bytes(), &tag].concat(),
                    );
                    (key, i % self.sc.swarm.zones)
                }
            };
            let n = self.new_node(key, zone);
            self.report.joins += 1;
            let key = self.nodes[n as usize].key;
            let near = self.shards_near(&key);
            self.evaluate_all(near);
        }
    }

    /// Shards whose ids share a prefix with `key` long enough to leave about
    /// four times the largest copy count of peers in that part of the key
    /// space: the shards a peer there may be responsible for (placement walks
    /// further only to find a zone it lacks).
    fn shards_near(&self, key: &Key) -> Vec<u32> {
        // Peers in the responsible sets (the index holds exactly those).
        let n = self
            .index
            .as_ref()
            .map_or(self.nodes.len(), |i| i.len())
            .max(1);
        if n <= 64 {
            return self.by_id.clone();
        }
        let bits = ((n / (4 * self.max_copies.max(1))).max(1)).ilog2() as usize;
        let (mut lo, mut hi) = (*key, *key);
        for i in bits..256 {
            lo[i / 8] &= !(1 << (7 - i % 8));
            hi[i / 8] |= 1 << (7 - i % 8);
        }
        let a = self
            .by_id
            .partition_point(|&s| self.shards[s as usize].id.0 < lo);
        let b = self
            .by_id
            .partition_point(|&s| self.shards[s as usize].id.0 <= hi);
        self.by_id[a..b].to_vec()
    }

    fn drain(&mut self, n: u32) {
        self.report.graceful_departures += 1;
        let node = &mut self.nodes[n as usize];
        node.draining = true;
        let held: Vec<u32> = node.holdings.iter().copied().collect();
        self.sync(n);
        self.evaluate_affected(n, held);
        self.maybe_gone(n);
    }

    fn zone_down(&mut self, z: usize) {
        for n in 0..self.nodes.len() as u32 {
            if self.nodes[n as usize].zone == z && self.nodes[n as usize].up() {
                self.go_offline(n, true);
            }
        }
    }

    fn zone_up(&mut self, z: usize) {
        for n in 0..self.nodes.len() as u32 {
            if self.nodes[n as usize].zone == z {
                self.come_back(n);
            }
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
            Action::Join { count } => self.join(count),
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
                    n.capacity = n.used;
                }
            }
            Action::Restore => {
                self.report.restores_attempted += self.backups.len() as u64;
                self.report.restores_ok += self.available_backups();
            }
        }
    }

    /// Backups whose every shard has a copy on an online node.
    fn available_backups(&self) -> u64 {
        self.backups
            .iter()
            .filter(|b| {
                b.shards.iter().all(|&s| {
                    self.shards[s as usize]
                        .holders
                        .iter()
                        .any(|&h| self.nodes[h as usize].up())
                })
            })
            .count() as u64
    }

    fn sample(&mut self) {
        let mut below = vec![0u64; Tier::ALL.len()];
        let mut lost = 0;
        for sh in &self.shards {
            if sh.lost {
                lost += 1;
                continue;
            }
            let online = sh
                .holders
                .iter()
                .filter(|&&h| self.nodes[h as usize].up())
                .count();
            if online < sh.copies {
                let t = self.backups[sh.backup as usize].tier;
                below[tier_pos(t)] += 1;
            }
        }
        let hours = (self.now - self.last_t) as f64 / 3_600_000.0;
        for (i, b) in below.iter().enumerate() {
            self.below_hours[i] += *b as f64 * hours;
        }
        self.last_t = self.now;
        let total = self.backups.len().max(1) as f64;
        let up: Vec<&Node> = self.nodes.iter().filter(|n| n.up()).collect();
        self.report.series.push(Sample {
            t: self.now as f64 / 1000.0,
            nodes_up: up.len(),
            shards_below_target: below.iter().sum(),
            shards_lost: lost,
            backups_lost: self.backups.iter().filter(|b| b.lost).count() as u64,
            availability: self.available_backups() as f64 / total,
            repair_bytes: self.repair_bytes,
            spread: spread(up.iter().map(|n| (n.used, self.sc.swarm.capacity))),
        });
    }

    fn finish(mut self, wall: f64) -> Report {
        let r = &mut self.report;
        r.simulated_secs = self.sc.duration.as_secs_f64();
        r.wall_secs = wall;
        r.nodes_end = self.nodes.iter().filter(|n| n.up()).count();
        r.stored_bytes_end = self
            .nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .map(|n| n.used)
            .sum();
        r.storage_overhead = r.stored_bytes_end as f64 / r.logical_bytes.max(1) as f64;
        r.repair_bytes = self.repair_bytes;
        let senders = self.nodes.len().max(1) as f64;
        r.repair_bytes_per_node_mean = self.repair_bytes as f64 / senders;
        r.repair_bytes_by_node = self.nodes.iter().map(|n| n.sent).collect();
        r.repair_bytes_per_node_max = r.repair_bytes_by_node.iter().copied().max().unwrap_or(0);
        let av: Vec<f64> = r.series.iter().map(|s| s.availability).collect();
        r.min_availability = av.iter().copied().fold(1.0, f64::min);
        r.mean_availability = av.iter().sum::<f64>() / av.len().max(1) as f64;
        r.spread_end = r.series.last().map_or(0.0, |s| s.spread);
        r.events = self.events;
        r.node_days_per_sec = self.node_ms / DAY_MS / wall.max(1e-9);
        for t in Tier::ALL {
            let bs: Vec<&Backup> = self.backups.iter().filter(|b| b.tier == t).collect();
            if bs.is_empty() {
                continue;
            }
            let shards: Vec<&Shard> = bs
                .iter()
                .flat_map(|b| b.shards.iter().map(|&s| &self.shards[s as usize]))
                .collect();
            r.tiers.push(TierOutcome {
                tier: t.name().into(),
                backups: bs.len() as u64,
                shards: shards.len() as u64,
                shards_lost: shards.iter().filter(|s| s.lost).count() as u64,
                backups_lost: bs.iter().filter(|b| b.lost).count() as u64,
                shard_hours_below_target: self.below_hours[tier_pos(t)],
            });
        }
        r.placement_end = self
            .shards
            .iter()
            .map(|s| {
                let mut on: Vec<usize> = s.holders.iter().map(|&h| h as usize).collect();
                on.sort_unstable();
                (s.id.to_string(), on)
            })
            .collect();
        self.report
    }
}

fn tier_pos(t: Tier) -> usize {
    Tier::ALL.iter().position(|x| *x == t).unwrap_or(0)
}
