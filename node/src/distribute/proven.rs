//! Copies proven now: peers are asked which shards they hold (`Has`; every
//! live peer, or each shard's closest peers by id), and each claim is
//! checked with sampled Bao slices against the shard id. A claim answered
//! with slices that do not verify is evidence against the peer. Shared by
//! `backup verify`, `distribution status` and the passes that rebuild
//! pieces (the owner's and the holders').

use super::Net;
use crate::audit;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::ShardId;
use shardnet_protocol::{placement, sample};
use shardnet_store::{ShardState, Store};
use std::collections::HashMap;

/// Samples asked of each claimed copy by `backup verify`.
pub const VERIFY_SAMPLES: usize = 2;
/// Sample requests in flight at once.
const VERIFY_PARALLEL: usize = 32;

/// The quick check of `backup verify`: for each (shard, size estimate), the
/// copies proven just now: this node's healthy copy, plus every live peer
/// that claims the shard (`Has`) and proves `VERIFY_SAMPLES` random chunks
/// of it with Bao slices checked against the id (`protocol::sample`). A
/// claim without a proof counts for nothing.
pub fn proven_copies(
    net: &Net,
    store: &Store,
    shards: &[(ShardId, u64)],
) -> Vec<Result<usize, String>> {
    proven_holders(net, store, shards)
        .into_iter()
        .map(|r| r.map(|h| h.len()))
        .collect()
}

/// As [`proven_copies`], naming who proved each copy (`None`: this node's
/// own healthy copy).
pub fn proven_holders(
    net: &Net,
    store: &Store,
    shards: &[(ShardId, u64)],
) -> Vec<Result<Vec<Option<PeerId>>, String>> {
    let ids: Vec<ShardId> = shards.iter().map(|(id, _)| *id).collect();
    let asks = net
        .view
        .live_peers()
        .into_iter()
        .map(|peer| (peer, ids.clone()))
        .collect();
    prove_claims(net, store, shards, asks)
}

/// As [`proven_holders`], asking each shard only of its `width` closest
/// peers by id (live or suspect: where placement and repair keep it), not
/// of every live peer: a pass over a few stripes costs a few requests, not
/// one per peer.
pub fn proven_holders_near(
    net: &Net,
    store: &Store,
    shards: &[(ShardId, u64)],
    width: usize,
) -> Vec<Result<Vec<Option<PeerId>>, String>> {
    let cands = net.view.repair_candidates();
    let local = net.client.local_peer_id();
    let mut asks: HashMap<PeerId, Vec<ShardId>> = HashMap::new();
    for (id, _) in shards {
        for peer in placement::responsible_set(id, 0, &cands, width) {
            if peer != local {
                asks.entry(peer).or_default().push(*id);
            }
        }
    }
    prove_claims(net, store, shards, asks.into_iter().collect())
}

/// Asks each peer of `asks` which of its ids it holds (`Has`), and has each
/// claim proven with sampled slices.
fn prove_claims(
    net: &Net,
    store: &Store,
    shards: &[(ShardId, u64)],
    asks: Vec<(PeerId, Vec<ShardId>)>,
) -> Vec<Result<Vec<Option<PeerId>>, String>> {
    use futures::StreamExt;
    let ids: Vec<ShardId> = shards.iter().map(|(id, _)| *id).collect();
    let local: std::collections::HashSet<ShardId> = ids
        .iter()
        .filter(|id| matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy))
        .copied()
        .collect();
    let wanted = asks;
    let mut asks = Vec::new();
    for (peer, ids) in &wanted {
        let peer = *peer;
        for batch in ids.chunks(shardnet_protocol::wire::MAX_HAS_IDS) {
            let (client, batch) = (net.client.clone(), batch.to_vec());
            asks.push(async move {
                let held: Vec<ShardId> = match client
                    .request(peer, Request::Has { ids: batch.clone() })
                    .await
                {
                    Ok(Response::Has(v)) if v.len() == batch.len() => batch
                        .into_iter()
                        .zip(v)
                        .filter(|(_, h)| *h)
                        .map(|(id, _)| id)
                        .collect(),
                    _ => Vec::new(),
                };
                (peer, held)
            });
        }
    }
    let size: HashMap<ShardId, u64> = shards.iter().copied().collect();
    let mut claims: HashMap<ShardId, usize> = HashMap::new();
    let mut pairs = Vec::new();
    for (peer, held) in net.handle.block_on(join_all(asks)) {
        for id in held {
            *claims.entry(id).or_default() += 1;
            pairs.push((peer, id));
        }
    }
    let seed = audit::nonce();
    let checks = pairs.into_iter().map(|(peer, id)| {
        let client = net.client.clone();
        let offsets = sample::offsets(
            &seed,
            &id,
            size.get(&id).copied().unwrap_or(0),
            VERIFY_SAMPLES,
        );
        async move {
            let req = Request::Sample {
                id,
                offsets: offsets.clone(),
            };
            // None: no answer (busy, gone); Some(false): wrong slices.
            let ok = match client.request(peer, req).await {
                Ok(Response::Samples(v)) => Some(
                    v.len() == offsets.len()
                        && offsets
                            .iter()
                            .zip(&v)
                            .all(|(o, slice)| sample::check(&id, *o, slice)),
                ),
                _ => None,
            };
            (peer, id, ok)
        }
    });
    let mut proven: HashMap<ShardId, Vec<Option<PeerId>>> = HashMap::new();
    let results: Vec<(PeerId, ShardId, Option<bool>)> = net.handle.block_on(
        futures::stream::iter(checks)
            .buffer_unordered(VERIFY_PARALLEL)
            .collect(),
    );
    for (peer, id, ok) in results {
        match ok {
            Some(true) => proven.entry(id).or_default().push(Some(peer)),
            // A peer that claims a shard and answers for it with slices
            // that do not verify has lied or lost it: evidence, as a failed
            // possession proof of a copy is.
            Some(false) => net.audits.record(
                peer,
                Evidence::ProofFailed,
                Some(id),
                "sampled slices of a claimed shard did not verify".into(),
            ),
            None => {}
        }
    }

    ids.iter()
        .map(|id| {
            let mut who = proven.remove(id).unwrap_or_default();
            if local.contains(id) {
                who.push(None);
            }
            match (who.len(), claims.get(id).copied().unwrap_or(0)) {
                (0, 0) => Err("no live peer holds it".into()),
                (0, c) => Err(format!("{c} peers claim it, none proved it")),
                _ => Ok(who),
            }
        })
        .collect()
}
