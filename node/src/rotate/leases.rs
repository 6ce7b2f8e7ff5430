//! Step 3 of a rotation: each holder of a shard takes a lease signed by the new
//! key, and only where it did is the old key's lease released.

use super::IN_FLIGHT;
use crate::distribute::Net;
use crate::ops::delete::HolderRow;
use crate::ops::{Ctx, OpError};
use futures::StreamExt;
use libp2p::PeerId;
use shardnet_protocol::lease::{Release, MAX_TERM_SECS};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{placement, repair, MasterKey, ShardId, Terms};
use std::collections::{BTreeMap, BTreeSet};
use tracing::warn;

/// The old key's release of every lease it could have signed on `id`.
pub(super) fn release_all(old: &MasterKey, id: &ShardId, now: u64) -> Release {
    Terms::new(old, now.saturating_add(MAX_TERM_SECS), 1).release(id, now)
}

/// Sends each `(shard, copies, request, release)`: `request` to the local
/// copy and to the shard's `copies` responsible peers (with the spill
/// margin; for a piece, as many as its stripe has pieces), and
/// where it was a renewal that took, `release` after it. Returns the number
/// of (shard, holder) pairs where both went through; `taken` gets the
/// shards the request took somewhere.
pub(super) fn exchange(
    ctx: &Ctx<'_>,
    net: &Net,
    items: &[(ShardId, u8, Request, Release)],
    holders: &mut BTreeMap<String, HolderRow>,
    taken: &mut BTreeSet<ShardId>,
) -> Result<usize, OpError> {
    let local = net.client.local_peer_id();
    let mut done = 0;
    for (id, _, req, rel) in items {
        if let Request::Renew { lease, .. } = req {
            if !ctx.store.add_lease(id, *lease)? {
                continue;
            }
            taken.insert(*id);
            done += 1;
            row(holders, local).released += 1;
        }
        if let Some(size) = ctx.store.release_lease(id, rel, None)? {
            net.usage.release(&rel.owner, size);
        }
    }
    let candidates = net.view.candidates();
    let sends: Vec<(ShardId, PeerId, Request, Release)> = items
        .iter()
        .flat_map(|(id, copies, req, rel)| {
            placement::responsible_set(id, 0, &candidates, *copies as usize + repair::SPILL)
                .into_iter()
                .filter(|p| *p != local)
                .map(move |p| (*id, p, req.clone(), *rel))
        })
        .collect();
    let answers: Vec<(ShardId, PeerId, Result<bool, String>)> = net.handle.block_on(
        futures::stream::iter(sends)
            .map(|(id, peer, req, rel)| {
                let client = net.client.clone();
                async move {
                    let renewal = matches!(req, Request::Renew { .. });
                    let a = match crate::net::ask(&client, peer, req).await {
                        Ok(Response::Renewed) if renewal => {
                            let release = Request::Release {
                                id,
                                release: Box::new(rel),
                                replacement: None,
                            };
                            // The new lease is in: the old one's fate no
                            // longer decides the copy's.
                            if let Err(e) = crate::net::ask(&client, peer, release).await {
                                warn!(%peer, shard = %id, "old lease not released: {e}");
                            }
                            Ok(true)
                        }
                        Ok(Response::Released(dropped)) => Ok(dropped),
                        Ok(Response::NotFound) => Ok(false),
                        Ok(other) => Err(format!("unexpected answer {other:?}")),
                        Err(e) => Err(e),
                    };
                    (id, peer, a)
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect(),
    );
    for (id, peer, a) in answers {
        let r = row(holders, peer);
        match a {
            Ok(true) => {
                r.released += 1;
                taken.insert(id);
                done += 1;
            }
            Ok(false) => r.not_held += 1,
            Err(e) => {
                warn!(%peer, shard = %id, "key rotation: {e}");
                r.failed += 1;
            }
        }
    }
    holders.retain(|_, r| r.released + r.failed > 0);
    Ok(done)
}

pub(super) fn row(holders: &mut BTreeMap<String, HolderRow>, peer: PeerId) -> &mut HolderRow {
    holders
        .entry(peer.to_string())
        .or_insert_with(|| HolderRow::new(peer.to_string()))
}
