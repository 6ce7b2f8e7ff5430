//! Possession proofs in a scan: the claimed holders of each shard (`Has`,
//! a hint), and sampled proofs of their copies checked against this node's
//! own.

use crate::audit;
use crate::distribute::Net;
use libp2p::PeerId;
use shardnet_protocol::proof;
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Request, Response, MAX_HAS_IDS};
use shardnet_protocol::ShardId;
use shardnet_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Challenges every (peer, shard) pair in `todo`, batched per peer, peers in
/// parallel. Answers are checked against this node's own copies, each read
/// once however many peers are challenged for it.
pub(super) async fn prove_all(net: &Net, store: &Arc<Store>, todo: HashMap<PeerId, Vec<ShardId>>) {
    let nonces: HashMap<PeerId, proof::Nonce> = todo.keys().map(|p| (*p, audit::nonce())).collect();
    let mut asks: HashMap<ShardId, Vec<(PeerId, proof::Nonce)>> = HashMap::new();
    for (peer, ids) in &todo {
        for id in ids {
            asks.entry(*id).or_default().push((*peer, nonces[peer]));
        }
    }
    let st = store.clone();
    let expected = tokio::task::spawn_blocking(move || audit::expected_for_peers(&st, &asks))
        .await
        .unwrap_or_default();
    let read: HashMap<ShardId, u64> = expected
        .values()
        .flatten()
        .map(|e| (e.id, e.size))
        .collect();
    let audits = &net.audits;
    audits.add(&audits.counters().bytes_checked, read.values().sum());
    let futs = expected.into_iter().map(|(peer, expected)| {
        let (client, audits) = (net.client.clone(), net.audits.clone());
        let nonce = nonces[&peer];
        async move {
            let items: Vec<(ShardId, u64)> = expected.iter().map(|e| (e.id, e.size)).collect();
            let by_id: HashMap<ShardId, audit::Expected> =
                expected.iter().map(|e| (e.id, *e)).collect();
            for batch in proof::batches(&items) {
                let batch: Vec<audit::Expected> = batch
                    .iter()
                    .filter_map(|(id, _)| by_id.get(id).copied())
                    .collect();
                audit::challenge(
                    &client,
                    &audits,
                    peer,
                    nonce,
                    &batch,
                    true,
                    Evidence::ProofFailed,
                )
                .await;
            }
        }
    });
    futures::future::join_all(futs).await;
}

/// Which of `ids` each peer holds: peer → set of ids it confirmed.
pub(super) async fn ask_holders(
    net: &Net,
    asks: HashMap<PeerId, Vec<ShardId>>,
) -> HashMap<PeerId, HashSet<ShardId>> {
    let mut futs = Vec::new();
    for (peer, ids) in asks {
        for batch in ids.chunks(MAX_HAS_IDS) {
            let (client, batch) = (net.client.clone(), batch.to_vec());
            futs.push(async move {
                let r = client
                    .request(peer, Request::Has { ids: batch.clone() })
                    .await;
                // `None`: no valid answer; the peer's holdings are unknown.
                let held: Option<Vec<ShardId>> = match r {
                    Ok(Response::Has(v)) if v.len() == batch.len() => Some(
                        batch
                            .into_iter()
                            .zip(v)
                            .filter(|(_, h)| *h)
                            .map(|(id, _)| id)
                            .collect(),
                    ),
                    _ => None,
                };
                (peer, held)
            });
        }
    }
    // A peer that failed to answer any batch is left out entirely: it is
    // neither a confirmed holder nor a transfer target in this scan.
    let mut out: HashMap<PeerId, HashSet<ShardId>> = HashMap::new();
    let mut silent: HashSet<PeerId> = HashSet::new();
    for (peer, held) in futures::future::join_all(futs).await {
        match held {
            Some(h) => out.entry(peer).or_default().extend(h),
            None => {
                silent.insert(peer);
            }
        }
    }
    for p in silent {
        out.remove(&p);
    }
    out
}
