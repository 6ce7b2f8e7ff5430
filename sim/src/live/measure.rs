//! What live mode measures: the census of who holds which shard (from each
//! node's control API), samples over the run, the wait for the swarm to
//! settle at the end, and the final report.

use super::{Census, Driver, SETTLE_MAX};
use crate::report::{Report, Sample, TierOutcome};
use shardnet_node::ops::ShardRow;
use shardnet_node::repair::RepairStatus;
use shardnet_protocol::{lease, Tier};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

impl Driver<'_> {
    /// Waits (at most `SETTLE_MAX`) until no node has transfers queued or in
    /// flight and two censuses a second apart agree, so that the final census
    /// is a placement and not a moment in a move: on a slow machine the last
    /// events' repairs may still run when the scenario's time is up, while
    /// the model's finished at once.
    pub(super) fn settle(&mut self) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let mut last = self.census()?;
        while t.elapsed() < SETTLE_MAX {
            std::thread::sleep(Duration::from_secs(1));
            let busy = self.up().into_iter().any(|i| {
                self.nodes[i].api.as_ref().is_some_and(|api| {
                    api.get::<RepairStatus>("/v1/rebalance/status")
                        .is_ok_and(|st| st.queued + st.in_flight > 0)
                })
            });
            let now = self.census()?;
            if !busy && now == last {
                break;
            }
            last = now;
        }
        if t.elapsed() > Duration::from_secs(2) {
            eprintln!(
                "live: settled {:.1} s after the end",
                t.elapsed().as_secs_f64()
            );
        }
        Ok(t.elapsed())
    }

    /// Shard id -> (node numbers holding a healthy copy, copies wanted, size).
    pub(super) fn census(&self) -> anyhow::Result<Census> {
        let mut m: BTreeMap<String, (Vec<usize>, usize, u64)> = BTreeMap::new();
        for i in self.up() {
            let Some(api) = self.nodes[i].api.as_ref() else {
                continue;
            };
            let Ok(rows) =
                api.post::<_, Vec<ShardRow>>("/v1/shards", &serde_json::json!({ "status": null }))
            else {
                continue;
            };
            for r in rows {
                if r.meta.state != shardnet_store::ShardState::Healthy {
                    continue;
                }
                let e = m.entry(r.id.to_string()).or_default();
                e.0.push(i);
                e.1 = e.1.max(lease::copies_wanted(&r.meta.leases, 0));
                e.2 = r.meta.size as u64;
            }
        }
        Ok(m)
    }

    pub(super) fn moved(&mut self) -> u64 {
        let mut total = 0;
        for n in &mut self.nodes {
            if let Some(api) = n.api.as_ref() {
                if let Ok(st) = api.get::<RepairStatus>("/v1/rebalance/status") {
                    n.moved = n.moved.max(n.moved_base + st.bytes_moved);
                }
            }
            total += n.moved;
        }
        total
    }

    pub(super) fn sample(&mut self, t: Duration) -> anyhow::Result<Sample> {
        let census = self.census()?;
        let mut below = 0;
        let mut lost = 0;
        let mut lost_backups = 0;
        let mut available = 0;
        let hours = self
            .last_sample
            .map_or(0.0, |l| (t - l).as_secs_f64() / 3600.0);
        self.last_sample = Some(t);
        for (_, tier, _, ids) in &self.backups {
            let mut ok = true;
            let mut gone = false;
            let pos = Tier::ALL.iter().position(|x| x == tier).unwrap_or(0);
            for id in ids {
                match census.get(id) {
                    Some((on, wanted, _)) => {
                        if on.len() < *wanted {
                            below += 1;
                            self.below_hours[pos] += hours;
                        }
                    }
                    None => {
                        lost += 1;
                        ok = false;
                        gone = true;
                    }
                }
            }
            available += u64::from(ok);
            lost_backups += u64::from(gone);
        }
        let mut used: HashMap<usize, u64> = HashMap::new();
        for (on, _, size) in census.values() {
            for i in on {
                *used.entry(*i).or_default() += size;
            }
        }
        let up = self.up();
        let spread = crate::report::spread(
            up.iter()
                .map(|i| (used.get(i).copied().unwrap_or(0), self.nodes[*i].capacity)),
        );
        Ok(Sample {
            t: t.as_secs_f64(),
            nodes_up: up.len(),
            shards_below_target: below,
            // Live mode cannot tell lost from unreachable (a zone may come back).
            shards_lost: lost,
            backups_lost: lost_backups,
            availability: available as f64 / self.backups.len().max(1) as f64,
            repair_bytes: self.moved(),
            spread,
        })
    }

    pub(super) fn finish(&mut self, r: &mut Report, wall: Instant) -> anyhow::Result<()> {
        let census = self.census()?;
        r.simulated_secs = self.sc.duration.as_secs_f64();
        r.nodes_end = self.up().len();
        r.nodes_peak = self.nodes.len();
        r.stored_bytes_end = census.values().map(|(on, _, s)| on.len() as u64 * s).sum();
        r.storage_overhead = r.stored_bytes_end as f64 / r.logical_bytes.max(1) as f64;
        r.repair_bytes = self.moved();
        r.repair_bytes_per_node_mean = r.repair_bytes as f64 / self.nodes.len().max(1) as f64;
        r.repair_bytes_by_node = self.nodes.iter().map(|n| n.moved).collect();
        r.repair_bytes_per_node_max = r.repair_bytes_by_node.iter().copied().max().unwrap_or(0);
        r.summarise_series();
        for (pos, tier) in Tier::ALL.into_iter().enumerate() {
            let bs: Vec<_> = self.backups.iter().filter(|b| b.1 == tier).collect();
            if bs.is_empty() {
                continue;
            }
            let ids: Vec<&String> = bs.iter().flat_map(|b| b.3.iter()).collect();
            r.tiers.push(TierOutcome {
                tier: tier.name().into(),
                scheme: self.sc.swarm.scheme(tier).to_string(),
                backups: bs.len() as u64,
                shards: ids.len() as u64,
                shards_lost: ids.iter().filter(|id| !census.contains_key(**id)).count() as u64,
                backups_lost: bs
                    .iter()
                    .filter(|b| b.3.iter().any(|id| !census.contains_key(id)))
                    .count() as u64,
                shard_hours_below_target: self.below_hours[pos],
            });
        }
        r.placement_end = census
            .iter()
            .map(|(id, (on, _, _))| {
                let mut on = on.clone();
                on.sort_unstable();
                (id.clone(), on)
            })
            .collect();
        r.wall_secs = wall.elapsed().as_secs_f64();
        Ok(())
    }
}
