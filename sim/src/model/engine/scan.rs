//! What the nodes' repair scans do, with the real rules: responsible sets
//! from `protocol::placement` (through `PlacementIndex`), decisions from
//! `protocol::repair::decide`, and modelled transfer times.

use super::{Ev, Sim};
use crate::model::state::NodeState;
use crate::scenario::Policy;
use shardnet_protocol::placement::{self, vkeys, Candidate, VirtualKeys};
use shardnet_protocol::placement_index::PlacementIndex;
use shardnet_protocol::redundancy::Silent;
use shardnet_protocol::repair;
use shardnet_protocol::ShardId;
use std::time::Duration;

impl Sim<'_> {
    pub(super) fn add_copy(&mut self, s: u32, n: u32) {
        let sh = &mut self.shards[s as usize];
        sh.touched = self.now;
        if !sh.holders.contains(&n) {
            sh.holders.push(n);
            let node = &mut self.nodes[n as usize];
            node.used += sh.size;
            node.holdings.insert(s);
            node.wanted.remove(&s);
            self.on_copy(s, n);
        }
    }

    pub(super) fn drop_copy(&mut self, s: u32, n: u32) {
        let sh = &mut self.shards[s as usize];
        sh.touched = self.now;
        if let Some(p) = sh.holders.iter().position(|&h| h == n) {
            sh.holders.swap_remove(p);
            let node = &mut self.nodes[n as usize];
            node.used = node.used.saturating_sub(sh.size);
            node.holdings.remove(&s);
        }
        // Lost when fewer pieces remain than restore it (one for copies).
        if sh.holders.len() < sh.scheme.needed() && !sh.lost {
            sh.lost = true;
            tracing::debug!(t = self.now, shard = s, last = n, state = ?self.nodes[n as usize].state, "shard lost");
            let b = sh.backup as usize;
            self.backups[b].lost = true;
        }
    }

    pub(super) fn candidate(&self, i: u32) -> Candidate<u32> {
        let n = &self.nodes[i as usize];
        Candidate {
            peer: i,
            key: n.key,
            vkeys: n.vkeys.clone(),
            // Capacity weighs placement, as the node announces it.
            weight: placement::weight(n.capacity),
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
    pub(super) fn sync(&mut self, n: u32) {
        let c = self.candidate(n);
        let in_view = self.nodes[n as usize].in_view();
        if let Some(index) = self.index.as_mut() {
            if in_view {
                index.upsert(c);
            } else {
                index.remove(&c.key);
            }
        }
        self.forget_near(n);
    }

    /// The placement index, built from the view on first use.
    pub(super) fn ensure_index(&mut self) {
        if self.index.is_none() {
            let cands: Vec<Candidate<u32>> = (0..self.nodes.len() as u32)
                .filter(|&i| self.nodes[i as usize].in_view())
                .map(|i| self.candidate(i))
                .collect();
            self.index = Some(PlacementIndex::new(cands));
        }
    }

    pub(super) fn responsible(&mut self, id: &ShardId, size: u64, copies: usize) -> Vec<u32> {
        self.ensure_index();
        self.index
            .as_ref()
            .map(|i| i.responsible_set(id, size, copies))
            .unwrap_or_default()
    }

    /// One repair scan of one shard, as the holders would run it.
    pub(super) fn evaluate(&mut self, s: u32) {
        if self.shards[s as usize].lost {
            return;
        }
        self.shards[s as usize].touched = self.now;
        let (size, logical, scheme) = {
            let sh = &self.shards[s as usize];
            (sh.size, sh.logical, sh.scheme)
        };
        let copies = scheme.pieces();
        let ranked = self.ranked(s);
        let sh = &self.shards[s as usize];
        let online: Vec<u32> = sh
            .holders
            .iter()
            .copied()
            .filter(|&h| self.nodes[h as usize].up())
            .collect();
        // As the node does: a full peer that lacks the shard gives its place
        // to the next in line, and so does a silent one past its wait
        // (`redundancy::Scheme::verdict`: per peer for copies, all at once
        // below the repair threshold for pieces; held: it had a copy when
        // it fell silent).
        let nodes = &self.nodes;
        let (now, live) = (self.now, online.len());
        let silent: Vec<u32> = ranked
            .iter()
            .copied()
            .filter(|&p| !nodes[p as usize].up())
            .collect();
        let views: Vec<Silent> = silent
            .iter()
            .map(|&p| {
                let n = &nodes[p as usize];
                Silent {
                    silent: Duration::from_millis(now.saturating_sub(n.offline_since)),
                    wait: n.wait,
                    held: sh.holders.contains(&p) || n.lost_holdings.contains(&s),
                }
            })
            .collect();
        let verdict = scheme.verdict(live, &views);
        let waits_for = |p: u32| {
            nodes[p as usize].up()
                || silent
                    .iter()
                    .position(|&x| x == p)
                    .is_some_and(|i| verdict.kept[i])
        };
        let can_take = |p: &u32| {
            let n = &nodes[*p as usize];
            waits_for(*p) && n.used + size <= n.capacity
        };
        let resp = match self.sc.swarm.policy {
            Policy::Eager => repair::spill(&ranked, copies, |p| online.contains(p), can_take),
            // A silent holder that keeps its place holds it ahead of a
            // joiner too, as an online one does.
            Policy::Lazy => {
                let zone_aware = self.zone_aware;
                repair::keep_in_place(
                    &ranked,
                    copies,
                    |p| online.contains(p) || (sh.holders.contains(p) && waits_for(*p)),
                    can_take,
                    |p| zone_aware.then(|| nodes[*p as usize].zone),
                )
            }
        };
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
        let pending = &sh.pending;
        let nodes = &self.nodes;
        let target_ok = |p: &u32| {
            let n = &nodes[*p as usize];
            n.up() && !n.draining && n.used + size <= n.capacity && !pending.contains(p)
        };
        let d = repair::decide(&coord, &resp, &others, target_ok, |_| true, copies);
        // A lying coordinator does nothing (until its copy fails an audit).
        // Above the repair threshold missing pieces wait for a batch, except
        // as many as holders outside the set (draining, or displaced by a
        // joiner) still have: those move, as a handoff does, no gather.
        let waits = d.reason == repair::Reason::Repair && !verdict.rebuild;
        let outside = online.iter().filter(|h| !resp.contains(h)).count();
        let mut d = d;
        if self.nodes[coord as usize].liar {
            d.send_to.clear();
        } else if waits {
            d.send_to.truncate(outside);
        }
        tracing::trace!(t = self.now, shard = s, ?resp, ?online, coord, send = ?d.send_to, "evaluate");
        let bytes = if waits {
            0
        } else {
            scheme.gather_bytes(logical, true)
        };
        if d.reason == repair::Reason::Repair && bytes > 0 && !d.send_to.is_empty() {
            // A piece is rebuilt from `needed` others: the coordinator
            // gathers them (it holds one) once for all it sends now, and
            // cannot while fewer are online (it waits for holders to return).
            if live < scheme.needed() {
                return;
            }
            self.repair_bytes += bytes;
            for &h in online
                .iter()
                .filter(|&&h| h != coord)
                .take(scheme.needed() - 1)
            {
                self.nodes[h as usize].sent += size;
            }
            let dur = (bytes as f64 * 1000.0 / self.sc.swarm.bandwidth as f64).ceil() as u64;
            let c = &mut self.nodes[coord as usize];
            c.down_free = c.down_free.max(self.now) + dur;
            // Pieces go out once rebuilt.
            c.up_free = c.up_free.max(c.down_free);
        }
        // As many sends as online holders outside the set are moves (a
        // joiner took a holder's place, a holder drains): handoffs, not
        // repairs, although the set itself is short of copies.
        for (i, to) in d.send_to.into_iter().enumerate() {
            self.start_transfer(s, coord, to, i < outside);
        }
        for h in online {
            if resp.contains(&h) {
                continue;
            }
            // Removing a copy takes proofs from the same scan: a liar's
            // copy never justifies it.
            let rest: Vec<u32> = confirmed
                .iter()
                .copied()
                .filter(|&x| x != h && !self.nodes[x as usize].liar)
                .collect();
            // Above the threshold a shard may sit at its floor: a piece
            // outside the set may go once the floor is proven without it
            // (else a draining holder would wait for places kept for
            // silent peers, and never leave).
            let keep = if verdict.rebuild {
                copies
            } else {
                scheme.floor()
            };
            let d = repair::decide(&h, &resp, &rest, |_| false, |_| true, keep);
            if d.drop_local {
                self.drop_copy(s, h);
                self.maybe_gone(h);
            }
        }
    }

    pub(super) fn start_transfer(&mut self, s: u32, src: u32, dst: u32, handoff: bool) {
        let size = self.shards[s as usize].size;
        let dur = (size as f64 * 1000.0 / self.sc.swarm.bandwidth as f64).ceil() as u64;
        // The uplink and the downlink are separate queues, each spent once:
        // a busy receiver delays this transfer, not everything else the
        // sender has queued (reserving the sender until the receiver is free
        // let one joiner's backlog stall every peer that sends to it, and
        // theirs stall others, across the whole swarm).
        let up = self.now.max(self.nodes[src as usize].up_free) + dur;
        let down = self.now.max(self.nodes[dst as usize].down_free) + dur;
        self.nodes[src as usize].up_free = up;
        self.nodes[dst as usize].down_free = down;
        self.shards[s as usize].pending.push(dst);
        self.at(
            up.max(down),
            Ev::Transfer {
                shard: s,
                src,
                dst,
                handoff,
            },
        );
    }

    pub(super) fn transfer_done(&mut self, s: u32, src: u32, dst: u32, handoff: bool) {
        self.shards[s as usize].pending.retain(|&p| p != dst);
        // A liar has no bytes to send (the copy would not hash to its id).
        let ok = !self.nodes[src as usize].liar
            && self.shards[s as usize].holders.contains(&src)
            && self.nodes[dst as usize].up()
            && self.nodes[src as usize].state != NodeState::Gone;
        if ok {
            let size = self.shards[s as usize].size;
            self.add_copy(s, dst);
            self.repair_bytes += size;
            if handoff {
                self.handoff_bytes += size;
            }
            self.nodes[src as usize].sent += size;
        }
        self.evaluate(s);
    }

    /// A draining node with nothing left leaves.
    pub(super) fn maybe_gone(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        if node.draining && node.holdings.is_empty() && node.state != NodeState::Gone {
            if node.state == NodeState::Up {
                self.up_count -= 1;
            }
            self.nodes[n as usize].state = NodeState::Gone;
            self.membership_changes += 1;
            self.sync(n);
        }
    }

    /// Node `n` left or re-entered the responsible sets: the shards it holds
    /// (passed in) and those it was responsible for without holding them are
    /// re-checked, as every holder's scan would on that membership change.
    pub(super) fn evaluate_affected(&mut self, n: u32, mut list: Vec<u32>) {
        list.extend(self.nodes[n as usize].wanted.iter().copied());
        list.sort_unstable();
        list.dedup();
        self.evaluate_all(list);
    }

    pub(super) fn evaluate_all(&mut self, list: Vec<u32>) {
        for s in list {
            self.evaluate(s);
        }
    }

    /// Shards whose ids share a prefix with any of `keys` long enough to
    /// leave about four times the largest copy count of virtual keys in that
    /// part of the key space: the shards a peer with these keys may be
    /// responsible for (placement walks further only to find a zone it
    /// lacks; the repair scan decides).
    pub(super) fn shards_near(&self, keys: &VirtualKeys) -> Vec<u32> {
        // Peers in the responsible sets (the index holds exactly those).
        let n = self
            .index
            .as_ref()
            .map_or(self.nodes.len(), |i| i.len())
            .max(1);
        if n <= 64 {
            return self.by_id.clone();
        }
        let entries = n * vkeys::VIRTUAL_KEYS;
        let bits = ((entries / (4 * self.max_copies.max(1))).max(1))
            .ilog2()
            .min(63);
        let mask = !0u64 << (64 - bits);
        let mut near: Vec<u32> = Vec::new();
        for &k in keys.as_slice() {
            near.extend_from_slice(self.shards_between(k & mask, (k & mask) | !mask));
        }
        near.sort_unstable();
        near.dedup();
        near
    }

    /// The shards whose id's first 64 bits lie in `lo..=hi`.
    pub(super) fn shards_between(&self, lo: u64, hi: u64) -> &[u32] {
        &self.by_id[self.id_range(lo, hi)]
    }

    /// Where those shards sit in `by_id` and `by_id_prefix`.
    pub(super) fn id_range(&self, lo: u64, hi: u64) -> std::ops::Range<usize> {
        let a = self.by_id_prefix.partition_point(|&p| p < lo);
        let b = self.by_id_prefix.partition_point(|&p| p <= hi);
        a..b
    }
}
