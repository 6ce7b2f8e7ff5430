//! The simulated world changing: nodes appear, drain and lose data, zones
//! go dark; backups are created; the random processes are scheduled
//! (`silence` has outages and returns).

use super::{Ev, Layout, Sim, DAY_MS, YEAR_MS};

use crate::model::state::{Backup, Node, NodeState, Shard};
use rand::Rng;
use shardnet_protocol::patience;
use shardnet_protocol::placement::{self, vkeys, Key};
use shardnet_protocol::{ShardId, Tier};
use std::time::Duration;

impl Sim<'_> {
    pub(super) fn new_node(&mut self, key: Key, zone: usize) -> u32 {
        self.nodes.push(Node {
            key,
            vkeys: placement::VirtualKeys::of(&key),
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
            liar: false,
            trusted: false,
            isolated: false,
            rep: Default::default(),
            first_copy_at: None,
            outages: Default::default(),
            offline_since: 0,
            wait: patience::Wait::eager(Duration::ZERO),
            co_holders: None,
        });
        let n = (self.nodes.len() - 1) as u32;
        self.up_count += 1;
        if let Some(l) = self.sc.churn.mean_lifetime {
            self.after_exp(l.as_millis() as f64, Ev::Depart(n));
        }
        self.sync(n);
        self.report.nodes_peak = self.report.nodes_peak.max(self.count_live());
        n
    }

    pub(super) fn count_live(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.state != NodeState::Gone)
            .count()
    }

    pub(super) fn generate(&mut self) {
        let seed_tag: u64 = self.rng.gen();
        for i in 0..self.sc.swarm.nodes {
            let key =
                placement::peer_key(&[seed_tag.to_le_bytes(), (i as u64).to_le_bytes()].concat());
            let n = self.new_node(key, i % self.sc.swarm.zones);
            self.nodes[n as usize].trusted = i < self.sc.swarm.trusted;
        }
        self.pick_liars();
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

    pub(super) fn load(&mut self, l: &Layout) {
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

    pub(super) fn finish_setup(&mut self) {
        let mut by_id: Vec<u32> = (0..self.shards.len() as u32).collect();
        by_id.sort_by_key(|&s| self.shards[s as usize].id);
        self.by_id_prefix = by_id
            .iter()
            .map(|&s| vkeys::prefix64(&self.shards[s as usize].id.0))
            .collect();
        self.by_id = by_id;
        self.max_copies = self
            .shards
            .iter()
            .map(|s| s.scheme.pieces())
            .max()
            .unwrap_or(1);
        self.report.logical_bytes = self.shards.iter().map(|s| s.logical).sum();
    }

    pub(super) fn add_shard(&mut self, id: ShardId, size: u64, tier: Tier, backup: u32) -> u32 {
        let scheme = self.sc.swarm.scheme(tier);
        self.shards.push(Shard {
            id,
            size: scheme.piece_size(size),
            logical: size,
            scheme,
            backup,
            holders: Vec::new(),
            pending: Vec::new(),
            lost: false,
            touched: 0,
        });
        (self.shards.len() - 1) as u32
    }

    /// A new shard goes straight to its responsible set (what a backup does),
    /// peers without room giving their place to the next in line.
    pub(super) fn place_new(&mut self, s: u32) {
        let (size, copies) = {
            let sh = &self.shards[s as usize];
            (sh.size, sh.scheme.pieces())
        };
        let ranked = self.ranked(s);
        let nodes = &self.nodes;
        let chosen = shardnet_protocol::repair::spill(
            &ranked,
            copies,
            |_| false,
            |n| {
                nodes[*n as usize].up()
                    && nodes[*n as usize].used + size <= nodes[*n as usize].capacity
            },
        );
        for &n in &chosen {
            self.add_copy(s, n);
        }
        self.trusted_floor(s, &chosen);
    }

    /// As the node's backup does (`protocol::floor`): when no copy of a new
    /// shard is on a trusted node, one more goes to the first trusted node in
    /// placement order that can take it.
    fn trusted_floor(&mut self, s: u32, chosen: &[u32]) {
        if self.sc.swarm.trusted == 0 {
            return;
        }
        let (id, size) = (self.shards[s as usize].id, self.shards[s as usize].size);
        let trusted =
            |nodes: &[Node], n: &u32| nodes[*n as usize].trusted && !nodes[*n as usize].isolated;
        if chosen.iter().any(|n| trusted(&self.nodes, n)) {
            return;
        }
        let order = self.responsible(&id, size, self.nodes.len());
        let nodes = &self.nodes;
        let extra = shardnet_protocol::floor::extra_holder(
            &order,
            chosen,
            |n| trusted(nodes, n),
            |n| {
                let x = &nodes[*n as usize];
                trusted(nodes, n) && x.up() && x.used + size <= x.capacity
            },
        );
        if let Some(n) = extra {
            self.add_copy(s, n);
            self.report.trusted_floor_copies += 1;
        }
    }

    pub(super) fn corrupt(&mut self, s: u32, n: u32) {
        self.report.corruptions += 1;
        self.drop_copy(s, n);
        let scrub = self.sc.churn.scrub_interval.as_millis() as u64;
        let t = self.now + self.rng.gen_range(0..scrub.max(1));
        self.at(t, Ev::Detect(s));
    }

    pub(super) fn schedule_corruption(&mut self) {
        let copies: usize = self.shards.iter().map(|s| s.holders.len()).sum();
        let rate = self.sc.churn.corruption_per_copy_per_year * copies.max(1) as f64;
        if rate > 0.0 {
            self.after_exp(YEAR_MS / rate, Ev::Corruption);
        }
    }

    pub(super) fn schedule_processes(&mut self) {
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

    pub(super) fn join(&mut self, count: usize, liars: bool) {
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
            self.membership_changes += 1;
            if liars {
                self.nodes[n as usize].liar = true;
                self.report.liars += 1;
            }
            let near = self.shards_near(&self.nodes[n as usize].vkeys.clone());
            self.evaluate_all(near);
        }
    }

    pub(super) fn drain(&mut self, n: u32) {
        self.report.graceful_departures += 1;
        self.membership_changes += 1;
        let node = &mut self.nodes[n as usize];
        node.draining = true;
        let held: Vec<u32> = node.holdings.iter().copied().collect();
        self.sync(n);
        self.evaluate_affected(n, held);
        self.maybe_gone(n);
    }

    /// Zone `z` goes dark. The others see most of a zone fall silent at once
    /// and take it for a partition (`patience::partitioned`).
    pub(super) fn zone_down(&mut self, z: usize) {
        let in_zone = |n: &Node| n.zone == z && n.in_view();
        // Every peer of the zone in the others' view falls silent.
        let peers = self.nodes.iter().filter(|n| in_zone(n)).count();
        let partition = patience::partitioned(peers, peers);
        for n in 0..self.nodes.len() as u32 {
            if self.nodes[n as usize].zone == z && self.nodes[n as usize].up() {
                self.go_silent(n, true, partition);
            }
        }
    }

    pub(super) fn zone_up(&mut self, z: usize) {
        for n in 0..self.nodes.len() as u32 {
            if self.nodes[n as usize].zone == z {
                self.come_back(n);
            }
        }
    }
}
