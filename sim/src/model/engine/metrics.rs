//! Samples over the run and the final report.

use super::{Sim, DAY_MS};
use crate::model::state::{Backup, Node, NodeState, Shard};
use crate::report::{spread, MembershipModel, Report, Sample, TierOutcome};
use crate::scenario::Redundancy;
use shardnet_protocol::Tier;

impl Sim<'_> {
    /// Backups whose every shard has enough copies or pieces to restore it
    /// on online nodes.
    pub(super) fn available_backups(&self) -> u64 {
        self.backups
            .iter()
            .filter(|b| {
                b.shards.iter().all(|&s| {
                    let sh = &self.shards[s as usize];
                    let online = sh
                        .holders
                        .iter()
                        .filter(|&&h| self.nodes[h as usize].up())
                        .count();
                    online >= sh.scheme.needed()
                })
            })
            .count() as u64
    }

    pub(super) fn sample(&mut self) {
        debug_assert_eq!(
            self.up_count,
            self.nodes.iter().filter(|n| n.up()).count(),
            "the count of nodes up drifted"
        );
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
            if online < sh.scheme.pieces() {
                let t = self.backups[sh.backup as usize].tier;
                below[tier_pos(t)] += 1;
            }
        }
        // Audit reads over the interval since the last sample: each copy is
        // read by its holder for each of its (copies - 1) challengers, and
        // once by each challenger for its own copy: `copies` reads per copy
        // per audit interval.
        let share = (self.now - self.last_t) as f64
            / self.sc.churn.audit_interval.as_millis().max(1) as f64;
        let per_interval: f64 = self
            .shards
            .iter()
            .filter(|sh| !sh.lost)
            .map(|sh| (sh.holders.len() * sh.scheme.pieces()) as f64 * sh.size as f64)
            .sum();
        self.report.audit_read_bytes += (per_interval * share) as u64;
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
            spread: spread(up.iter().map(|n| (n.used, n.capacity))),
        });
    }

    pub(super) fn finish(mut self, wall: f64) -> Report {
        let r = &mut self.report;
        r.simulated_secs = self.sc.duration.as_secs_f64();
        r.policy = self.sc.swarm.policy.name().into();
        r.redundancy = match self.sc.swarm.redundancy {
            Redundancy::Replicate => "replicate".into(),
            Redundancy::Rs => format!("rs {}", self.sc.swarm.rs_data),
        };
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
        r.handoff_bytes = self.handoff_bytes;
        let senders = self.nodes.len().max(1) as f64;
        r.repair_bytes_per_node_mean = self.repair_bytes as f64 / senders;
        r.repair_bytes_by_node = self.nodes.iter().map(|n| n.sent).collect();
        r.repair_bytes_per_node_max = r.repair_bytes_by_node.iter().copied().max().unwrap_or(0);
        r.summarise_series();
        r.events = self.events;
        r.membership_model = Some(membership_model(
            self.membership_changes,
            self.membership_checks,
            self.node_ms,
            r.simulated_secs,
        ));
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
                scheme: self.sc.swarm.scheme(t).to_string(),
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
                // Online holders only, as a live census sees them.
                let mut on: Vec<usize> = s
                    .holders
                    .iter()
                    .filter(|&&h| self.nodes[h as usize].up())
                    .map(|&h| h as usize)
                    .collect();
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

/// Membership cost per node from the changes and checks a run counted over
/// `node_ms` of node time (`protocol::membership_cost`).
fn membership_model(changes: u64, checks: u64, node_ms: f64, secs: f64) -> MembershipModel {
    use shardnet_protocol::membership_cost::{full_view, Dissemination, BYTES_PER_PEER_HEARTBEAT};
    let node_days = (node_ms / DAY_MS).max(1e-9);
    let nodes = node_ms / 1000.0 / secs.max(1e-9);
    let n = nodes.round() as usize;
    MembershipModel {
        nodes,
        changes_per_node_day: changes as f64 / node_days,
        checks_per_node_day: checks as f64 / node_days,
        full_view_bytes_per_node_sec: full_view(n, 2.0, BYTES_PER_PEER_HEARTBEAT),
        dissemination: Dissemination::default().cost(
            changes as f64 / secs.max(1e-9),
            checks as f64 / (node_ms / 1000.0).max(1e-9),
        ),
    }
}
