//! Placing one shard: its responsible peers in this node's view (complementary
//! separation for the backup's root, zones checked; separation yields when
//! every peer it leaves refuses the root), each copy sent and
//! confirmed by a possession proof, and the trusted floor that keeps a shard
//! safe when the peers it was placed on may be liars.

use super::super::short_peer;
use super::{Payload, Receipt, SwarmSink};
use crate::shards::SinkError;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::floor;
use shardnet_protocol::placement::{self};
use shardnet_protocol::{Avoid, Lease, ShardId, Terms};
use std::sync::atomic::Ordering;
use tracing::warn;

impl<'a> SwarmSink<'a> {
    /// Puts or renews `id` on its responsible set, falling back to further peers
    /// by distance; returns the peers that confirmed.
    pub(super) fn place(
        &self,
        id: ShardId,
        size: u64,
        terms: &Terms,
        bytes: Option<&[u8]>,
        last: bool,
    ) -> Result<Vec<PeerId>, SinkError> {
        let lease = terms.lease(&id);
        // The lease's copies: lifecycle rules give files their own.
        let copies = terms.copies as usize;
        let mut pool = self.candidates.clone();
        let mut avoid: Vec<[u8; 32]> = Vec::new();
        if last {
            let placed = self.placed.load(Ordering::SeqCst);
            let holders = self
                .holders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let full: Vec<PeerId> = holders
                .iter()
                .filter(|(_, n)| **n >= placed && placed > 0)
                .map(|(p, _)| *p)
                .collect();
            if pool
                .iter()
                .filter(|c| c.eligible(size) && !full.contains(&c.peer))
                .count()
                >= copies.min(pool.len())
            {
                // Recorded with the shard, so that repair keeps it off them too.
                avoid = pool
                    .iter()
                    .filter(|c| full.contains(&c.peer))
                    .map(|c| c.key)
                    .take(shardnet_store::MAX_AVOID)
                    .collect();
                pool.retain(|c| !avoid.contains(&c.key));
            } else if full.iter().any(|p| *p != self.net.client.local_peer_id()) {
                // Durability first: the index still gets its copies.
                self.warn(format!(
                    "complementary separation given up: {} peers hold every data shard of this \
                     backup and too few others are left for the index's {copies} copies, so a \
                     peer may hold the whole backup (ciphertext only); more peers or zones avoid this",
                    full.len()
                ));
            }
        }
        // Signed, so that holders and repairers can tell it is the owner's.
        let signed_avoid = (!avoid.is_empty()).then(|| terms.avoid(&id, &avoid));
        let signed_avoid = signed_avoid.as_ref();
        let eligible = pool.iter().filter(|c| c.eligible(size)).count();
        let wanted = copies.min(eligible);
        if wanted < copies {
            self.warn(format!(
                "the swarm has {eligible} eligible peers but the tier wants {} copies: shards are stored {wanted} times",
                copies
            ));
        }
        if wanted == 0 {
            return Err(SinkError::Underreplicated {
                id,
                confirmed: 0,
                wanted: copies,
                reason: "no eligible peer".into(),
            });
        }
        let receipt = bytes.map(|b| Receipt::new(id, b));
        // One buffer for every copy's request (copied once, not per copy).
        let shared = bytes.map(bytes::Bytes::copy_from_slice);
        let sent = shared.as_ref().zip(receipt.as_ref());
        // All eligible peers in placement order: the responsible set first.
        let order = placement::responsible_set(&id, size, &pool, eligible);
        let mut confirmed = Vec::new();
        let mut last_error = String::new();
        let tried = |order: &[PeerId],
                     avoid: Option<&Avoid>,
                     confirmed: &mut Vec<PeerId>,
                     last_error: &mut String| {
            let mut next = 0;
            while confirmed.len() < wanted && next < order.len() {
                let batch: Vec<PeerId> =
                    order[next..(next + wanted - confirmed.len()).min(order.len())].to_vec();
                next += batch.len();
                let results = self.net.handle.block_on(join_all(
                    batch
                        .iter()
                        .map(|p| self.send(*p, id, lease, sent, avoid, None)),
                ));
                for (p, r) in batch.into_iter().zip(results) {
                    match r {
                        Ok(()) => confirmed.push(p),
                        Err(e) => {
                            if bytes.is_some() {
                                warn!(shard = %id, peer = %p, "copy not confirmed: {e}");
                            }
                            *last_error = format!("{p}: {e}");
                        }
                    }
                }
            }
        };
        tried(&order, signed_avoid, &mut confirmed, &mut last_error);
        let mut separated = !avoid.is_empty();
        if confirmed.len() < wanted && separated {
            // Every peer outside the data shards' holders refused the index
            // (peers that announce room and refuse every store can be all of
            // them): durability first, the index goes to the holders too,
            // with no avoid list.
            separated = false;
            self.warn(format!(
                "complementary separation given up for shard {id}: the {} peers outside the data shards' holders did not take it ({last_error}), so a peer may hold the whole backup (ciphertext only)",
                order.len()
            ));
            let n = self.candidates.len();
            let rest: Vec<PeerId> = placement::responsible_set(&id, size, &self.candidates, n)
                .into_iter()
                .filter(|p| !order.contains(p))
                .collect();
            tried(&rest, None, &mut confirmed, &mut last_error);
        }
        if confirmed.len() < wanted {
            return Err(SinkError::Underreplicated {
                id,
                confirmed: confirmed.len(),
                wanted,
                reason: last_error,
            });
        }
        let signed_avoid = signed_avoid.filter(|_| separated);
        if sent.is_some() {
            self.trusted_floor(&order, &mut confirmed, (id, lease, sent, signed_avoid));
        }
        if separated {
            self.check_root_zones(&id, &confirmed, &avoid, size);
        }
        Ok(confirmed)
    }

    /// When no confirmed copy is on a holder this node trusts (itself, or a
    /// vetted peer in good standing), one more goes to the first vetted peer
    /// in placement order (`protocol::floor`): liars that prove receipt and
    /// then drop the bytes cannot hold every copy of a shard.
    pub(super) fn trusted_floor(
        &self,
        order: &[PeerId],
        confirmed: &mut Vec<PeerId>,
        (id, lease, sent, avoid): (ShardId, Lease, Payload<'_>, Option<&Avoid>),
    ) {
        let local = self.net.client.local_peer_id();
        let audits = &self.net.audits;
        let Some(extra) = floor::extra_holder(
            order,
            confirmed,
            |p| *p == local || audits.trusted(p),
            |p| *p != local && audits.trusted(p),
        ) else {
            return;
        };
        match self
            .net
            .handle
            .block_on(self.send(extra, id, lease, sent, avoid, None))
        {
            Ok(()) => confirmed.push(extra),
            Err(e) => self.warn(format!(
                "shard {id}: every copy is on peers not vetted yet, and the extra copy for a vetted peer failed: {e}"
            )),
        }
    }

    /// Separation (no peer holds the whole backup) took peers out of the
    /// root's placement. When that leaves the root in fewer zones than the
    /// swarm offers, one zone's outage makes the backup unreachable: the
    /// conflict is reported, separation kept.
    pub(super) fn check_root_zones(
        &self,
        id: &ShardId,
        holders: &[PeerId],
        avoid: &[[u8; 32]],
        size: u64,
    ) {
        let zone = |p: &PeerId| {
            self.candidates
                .iter()
                .find(|c| c.peer == *p)
                .map(|c| c.zone.clone())
                .unwrap_or_default()
        };
        let mut got: Vec<String> = holders.iter().map(zone).collect();
        got.sort();
        got.dedup();
        let mut all: Vec<&str> = self
            .candidates
            .iter()
            .filter(|c| c.eligible(size))
            .map(|c| c.zone.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        let could = all.len().min(holders.len());
        if got.len() < could {
            let kept_off: Vec<String> = self
                .candidates
                .iter()
                .filter(|c| avoid.contains(&c.key))
                .map(|c| format!("{} (zone {})", short_peer(&c.peer), c.zone))
                .collect();
            let risk = if got.len() == 1 {
                format!(
                    "while zone {} is down, the backup cannot be restored",
                    got[0]
                )
            } else {
                "the index has less zone spread than the data".to_string()
            };
            self.warn(format!(
                "the index shard {id} is in {} zone(s) ({}) where {could} were possible: {} hold every other shard of this backup and complementary separation keeps the index off them; {risk}",
                got.len(),
                got.join(", "),
                kept_off.join(", "),
            ));
        }
    }
}
