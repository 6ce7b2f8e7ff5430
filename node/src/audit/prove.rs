//! One audit round against one peer: a fresh nonce, a `Prove` request for a
//! batch of shards within the proof deadline, and the answers checked against
//! answers computed from this node's own copies (`protocol::proof`).

use super::Audits;
use crate::swarm::Client;
use libp2p::PeerId;
use rand::RngCore;
use shardnet_protocol::proof::{self, Answer, Nonce};
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Reject, Request, Response};
use shardnet_protocol::ShardId;
use shardnet_store::{ShardState, Store};
use std::time::Instant;
use tracing::debug;

/// A shard to challenge, with its size and the answer its bytes give.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    pub id: ShardId,
    pub size: u64,
    pub answer: Answer,
}

/// A fresh random nonce.
pub fn nonce() -> Nonce {
    let mut n = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

/// Answers to `nonce` from this node's own copies (healthy or quarantined)
/// of `ids`; ids it cannot read are left out. Blocking: reads the store.
pub fn expected_from_store(store: &Store, nonce: &Nonce, ids: &[ShardId]) -> Vec<Expected> {
    ids.iter()
        .filter_map(|id| {
            let m = store.meta(id).ok()??;
            if m.state == ShardState::Corrupted {
                return None;
            }
            let bytes = store.get_shard(id).ok()?;
            Some(Expected {
                id: *id,
                size: bytes.len() as u64,
                answer: proof::answer(nonce, id, &bytes),
            })
        })
        .collect()
}

/// Challenges `peer` for every shard of `batch` (at most
/// `proof::MAX_PROVE_IDS`, made with `nonce`). Returns the ids it proved.
/// Records one evidence event for the round when `as_audit` (a pass or a
/// failure), or only failures otherwise (`missing` names the evidence for a
/// shard the peer says it lacks). A busy peer or a broken connection is no
/// evidence: its copies simply stay unproven.
pub async fn challenge(
    client: &Client,
    audits: &Audits,
    peer: PeerId,
    nonce: Nonce,
    batch: &[Expected],
    as_audit: bool,
    missing: Evidence,
) -> Vec<ShardId> {
    if batch.is_empty() {
        return Vec::new();
    }
    let bytes: u64 = batch.iter().map(|e| e.size).sum();
    let ids: Vec<ShardId> = batch.iter().map(|e| e.id).collect();
    let deadline = proof::deadline(bytes);
    let started = Instant::now();
    let st = audits.counters();
    audits.add(&st.rounds, 1);
    audits.add(&st.bytes_challenged, bytes);
    let answer = tokio::time::timeout(
        deadline,
        client.request(
            peer,
            Request::Prove {
                nonce,
                ids: ids.clone(),
            },
        ),
    )
    .await;
    let now = crate::output::now_unix();
    let first = Some(batch[0].id);
    let answers = match answer {
        Err(_) => {
            audits.add(&st.timeouts, 1);
            for e in batch {
                audits.note(peer, e.id, false, now);
            }
            audits.record(
                peer,
                Evidence::TimedOut,
                first,
                format!(
                    "{} shards, {bytes} bytes: no answer within {deadline:?}",
                    batch.len()
                ),
            );
            return Vec::new();
        }
        Ok(Err(e)) => {
            debug!(%peer, "proof request failed: {e}");
            return Vec::new();
        }
        Ok(Ok(Response::Rejected(Reject::Busy))) => return Vec::new(),
        Ok(Ok(Response::Proofs(v))) if v.len() == batch.len() => v,
        Ok(Ok(other)) => {
            let detail = format!("answered a proof with {}", short(&other));
            for e in batch {
                audits.note(peer, e.id, false, now);
            }
            audits.record(peer, Evidence::ProofFailed, first, detail);
            return Vec::new();
        }
    };
    let mut proved = Vec::new();
    let (mut wrong, mut lacking) = (Vec::new(), Vec::new());
    for (e, a) in batch.iter().zip(answers) {
        match a {
            Some(a) if a == e.answer => {
                audits.note(peer, e.id, true, now);
                proved.push(e.id);
            }
            Some(_) => {
                audits.note(peer, e.id, false, now);
                wrong.push(e.id);
            }
            None => {
                audits.note(peer, e.id, false, now);
                lacking.push(e.id);
            }
        }
    }
    audits.add(&st.proofs_passed, proved.len() as u64);
    audits.add(&st.proofs_failed, (wrong.len() + lacking.len()) as u64);
    let took = started.elapsed();
    if !wrong.is_empty() {
        let detail = format!(
            "{} of {} proofs wrong (took {took:?})",
            wrong.len(),
            batch.len()
        );
        audits.record(peer, Evidence::ProofFailed, wrong.first().copied(), detail);
    } else if !lacking.is_empty() {
        let detail = format!(
            "lacks {} of {} shards it claimed or acknowledged",
            lacking.len(),
            batch.len()
        );
        audits.record(peer, missing, lacking.first().copied(), detail);
    } else if as_audit {
        let detail = format!("{} shards, {bytes} bytes in {took:?}", batch.len());
        audits.record(peer, Evidence::ProofPassed, first, detail);
    }
    proved
}

fn short(r: &Response) -> String {
    let s = format!("{r:?}");
    s.chars().take(80).collect()
}
