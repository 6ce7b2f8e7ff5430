//! Peers falling silent and coming back: outages, crashes, partitions. How
//! long the others wait for a silent peer is `protocol::patience`; this
//! module schedules the looks that waiting needs and no others, since
//! looking again at everything a peer holds was most of a year's run.

use super::{Ev, Sim};
use crate::model::state::{CoHolders, Node, NodeState, Shard};
use crate::scenario::Policy;
use shardnet_protocol::patience;
use std::time::Duration;

/// A month (30 days) in ms.
const MONTH_MS: u64 = 30 * 86_400_000;

impl Sim<'_> {
    pub(super) fn go_offline(&mut self, n: u32, disk: bool) {
        self.go_silent(n, disk, false);
    }

    /// Node `n` stops answering (`disk` false: its data is gone too). How
    /// long the others keep its places depends on each shard
    /// (`protocol::patience::Wait::limit`): its shards are looked at again
    /// when each limit passes (`down_after`, its patience) and it leaves the
    /// responsible sets at the ceiling (`partition`: its zone went silent
    /// with it, so its patience is the ceiling).
    pub(super) fn go_silent(&mut self, n: u32, disk: bool, partition: bool) {
        let (base, ceiling) = (self.sc.swarm.down_after, self.sc.swarm.patience_max());
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Up {
            if !disk {
                // Already offline: the disk dies too.
                self.crash_disk(n);
            }
            return;
        }
        let wait = match self.sc.swarm.policy {
            Policy::Eager => patience::Wait::eager(base),
            Policy::Lazy => patience::Wait {
                base,
                patience: if partition {
                    ceiling
                } else {
                    patience::patience(&node.outages, base, ceiling)
                },
                ceiling,
            },
        };
        node.state = NodeState::Offline { down: false, disk };
        node.epoch += 1;
        node.offline_since = self.now;
        self.membership_changes += 1;
        // Each peer holding a shard with it checks it itself: once when the
        // suspicion reaches it, once before it acts.
        let node = &self.nodes[n as usize];
        let (now, held) = (self.now, node.holdings.len());
        let count = match node.co_holders {
            Some(c) if c.fresh(held, now, MONTH_MS) => c,
            _ => CoHolders {
                at: now,
                held,
                peers: co_holders(node, &self.shards, n),
            },
        };
        self.membership_checks += 2 * count.peers;
        let node = &mut self.nodes[n as usize];
        node.co_holders = Some(count);
        node.wait = wait;
        let epoch = node.epoch;
        self.up_count -= 1;
        if !disk {
            self.crash_disk(n);
        }
        let now = self.now;
        let ms = |d: Duration| now + d.as_millis() as u64;
        let out = wait.ceiling.max(base);
        // A shard it held waits for it until one of these
        // (`patience::Wait::limit_at`: its last copies, below the floor, or
        // the ceiling at `Down`), and each needs a look then. None at
        // `base` unless that is its patience: a node that came back from
        // its outages has more, and looking at all it holds at `base` was
        // a look for nothing at one outage in eight.
        let patience = wait.patience.clamp(base, out);
        let last = patience.min(base.saturating_mul(patience::LAST_COPY_BASES));
        if last < out {
            self.at(ms(last), Ev::Urgent(n, epoch));
        }
        if patience > last && patience < out {
            self.at(ms(patience), Ev::Urgent(n, epoch));
        }
        self.at(ms(out), Ev::Down(n, epoch));
    }

    pub(super) fn crash_disk(&mut self, n: u32) {
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

    pub(super) fn come_back(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if let NodeState::Offline { down, disk: true } = node.state {
            node.state = NodeState::Up;
            node.epoch += 1;
            self.up_count += 1;
            self.membership_changes += 1;
            let silent = self.now.saturating_sub(node.offline_since);
            node.outages.record(Duration::from_millis(silent));
            let since = node.offline_since;
            if down {
                let held: Vec<u32> = node.holdings.iter().copied().collect();
                self.sync(n);
                self.evaluate_affected(n, held);
            } else {
                // Back within its patience: its places were kept, so a shard
                // nothing touched while it was away is as its last scan left
                // it (every wait that ran out meanwhile has an event of its
                // own). The others need a look: its copies count again and
                // surplus made in its absence goes, or it is now the place a
                // copy waited for. Looking at every shard it holds or lacks
                // was half of a year's run with pieces, for nothing.
                let shards = &self.shards;
                let mut list: Vec<u32> = node
                    .holdings
                    .iter()
                    .chain(node.wanted.iter())
                    .copied()
                    .filter(|&s| shards[s as usize].touched >= since)
                    .collect();
                list.sort_unstable();
                list.dedup();
                self.evaluate_all(list);
            }
        }
    }
}

/// Distinct peers holding a shard with node `n`.
fn co_holders(node: &Node, shards: &[Shard], n: u32) -> u64 {
    let mut peers: Vec<u32> = node
        .holdings
        .iter()
        .flat_map(|&s| shards[s as usize].holders.iter().copied())
        .filter(|&h| h != n)
        .collect();
    peers.sort_unstable();
    peers.dedup();
    peers.len() as u64
}
