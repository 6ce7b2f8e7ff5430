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
use std::collections::HashMap;
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

/// Answers from this node's own copies (healthy or quarantined) for several
/// challenges at once: each shard of `asks` is read once and answered for
/// every (peer, nonce) that asks for it. Shards this node cannot read are
/// left out. Blocking: reads the store.
pub fn expected_for_peers(
    store: &Store,
    asks: &HashMap<ShardId, Vec<(PeerId, Nonce)>>,
) -> HashMap<PeerId, Vec<Expected>> {
    let mut out: HashMap<PeerId, Vec<Expected>> = HashMap::new();
    for (id, who) in asks {
        let Ok(Some(m)) = store.meta(id) else {
            continue;
        };
        if m.state == ShardState::Corrupted {
            continue;
        }
        let Ok(bytes) = store.get_shard(id) else {
            continue;
        };
        for (peer, nonce) in who {
            out.entry(*peer).or_default().push(Expected {
                id: *id,
                size: bytes.len() as u64,
                answer: proof::answer(nonce, id, &bytes),
            });
        }
    }
    out
}

/// What one challenge round came to.
#[derive(Debug, Default)]
pub struct Round {
    /// The ids the peer proved.
    pub proved: Vec<ShardId>,
    /// The peer answered `Busy` (no answer either way).
    pub busy: bool,
}

/// Challenges `peer` for every shard of `batch` (at most
/// `proof::MAX_PROVE_IDS`, made with `nonce`).
/// Records one evidence event for the round when `as_audit` (a pass or a
/// failure), or only failures otherwise (`missing` names the evidence for a
/// shard the peer says it lacks). A broken connection is no evidence, and
/// neither is one `Busy`: the copies simply stay unproven. `BUSY_ROUNDS`
/// busy answers in a row to audits (`as_audit`) count as one timed-out audit;
/// so does a timeout while this node lags ([`timed_out`]).
pub async fn challenge(
    client: &Client,
    audits: &Audits,
    peer: PeerId,
    nonce: Nonce,
    batch: &[Expected],
    as_audit: bool,
    missing: Evidence,
) -> Round {
    if batch.is_empty() {
        return Round::default();
    }
    let bytes: u64 = batch.iter().map(|e| e.size).sum();
    let ids: Vec<ShardId> = batch.iter().map(|e| e.id).collect();
    let deadline = audits.deadline(bytes);
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
    let answers = match answer {
        Err(_) => {
            timed_out(audits, peer, batch, now, as_audit, deadline);
            return Round::default();
        }
        Ok(Err(e)) => {
            debug!(%peer, "proof request failed: {e}");
            return Round::default();
        }
        Ok(Ok(Response::Rejected(Reject::Busy))) => {
            audits.add(&st.busy, 1);
            // At backup time a busy peer is only asked again: it is loaded,
            // not evasive.
            if as_audit {
                busy_audit(audits, peer, batch, now);
            }
            return Round {
                proved: Vec::new(),
                busy: true,
            };
        }
        Ok(Ok(Response::Proofs(v))) if v.len() == batch.len() => {
            audits.note_busy(peer, false);
            v
        }
        Ok(Ok(other)) => {
            let detail = format!("answered a proof with {}", short(&other));
            fail_all(audits, peer, batch, now, Evidence::ProofFailed, detail);
            return Round::default();
        }
    };
    judge(
        audits,
        peer,
        batch,
        answers,
        as_audit,
        missing,
        started.elapsed(),
    )
}

/// The proof of receipt a holder sent with its `StoredProof` answer,
/// checked against `expected` like a `Prove` round's answer (a wrong one is
/// a failed proof, evidence against the holder). True when it proves the
/// copy.
pub fn receipt(audits: &Audits, peer: PeerId, expected: &Expected, answer: Answer) -> bool {
    let st = audits.counters();
    audits.add(&st.rounds, 1);
    audits.add(&st.bytes_challenged, expected.size);
    let round = judge(
        audits,
        peer,
        std::slice::from_ref(expected),
        vec![Some(answer)],
        false,
        Evidence::FalseAck,
        std::time::Duration::ZERO,
    );
    round.proved.contains(&expected.id)
}

/// Checks one answer per shard of `batch` and records what they prove.
fn judge(
    audits: &Audits,
    peer: PeerId,
    batch: &[Expected],
    answers: Vec<Option<Answer>>,
    as_audit: bool,
    missing: Evidence,
    took: std::time::Duration,
) -> Round {
    let st = audits.counters();
    let now = crate::output::now_unix();
    let first = batch.first().map(|e| e.id);
    let bytes: u64 = batch.iter().map(|e| e.size).sum();
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
    Round {
        proved,
        busy: false,
    }
}

/// No answer came within `deadline`. A node whose own runtime lags (health
/// score above zero when the deadline passed: its ticks run late, or its
/// own probes time out) cannot tell a slow peer from its own queue, so the
/// round counts as a `Busy` answer: the copies stay unproven, and only every
/// [`super::BUSY_ROUNDS`]th such round in a row is a timed-out audit. A
/// healthy node records the timeout at once.
///
/// The cost of the excuse is bounded: a peer that never answers is still
/// isolated, after 30 audit rounds instead of 10, and its copies count for
/// nothing meanwhile. Measured before it, a 200-node live run on two
/// saturated cores (deadlines already stretched) warned honest peers 1,221
/// times and isolated them 241 times for proofs that timed out.
pub(super) fn timed_out(
    audits: &Audits,
    peer: PeerId,
    batch: &[Expected],
    now: u64,
    as_audit: bool,
    deadline: std::time::Duration,
) {
    let st = audits.counters();
    audits.add(&st.timeouts, 1);
    if audits.lagging() {
        audits.add(&st.timeouts_excused, 1);
        if as_audit {
            busy_audit(audits, peer, batch, now);
        }
        return;
    }
    let bytes: u64 = batch.iter().map(|e| e.size).sum();
    let detail = format!(
        "{} shards, {bytes} bytes: no answer within {deadline:?}",
        batch.len()
    );
    fail_all(audits, peer, batch, now, Evidence::TimedOut, detail);
}

/// Every copy of `batch` failed this round: one evidence event for it.
/// An audit round `peer` answered `Busy`: the copies stay unproven, and so
/// count for nothing; every [`super::BUSY_ROUNDS`]th busy round in a row is a
/// timed-out audit. With the default policy a peer that is always busy is
/// isolated after 10 timed-out audits, i.e. 30 audit rounds
/// (`always_busy_is_isolated_after_thirty_rounds`).
pub(super) fn busy_audit(audits: &Audits, peer: PeerId, batch: &[Expected], now: u64) {
    if audits.note_busy(peer, true) {
        let detail = format!(
            "answered Busy to {} proof rounds in a row",
            super::BUSY_ROUNDS
        );
        fail_all(audits, peer, batch, now, Evidence::TimedOut, detail);
    }
}

fn fail_all(
    audits: &Audits,
    peer: PeerId,
    batch: &[Expected],
    now: u64,
    ev: Evidence,
    detail: String,
) {
    for e in batch {
        audits.note(peer, e.id, false, now);
    }
    audits.record(peer, ev, batch.first().map(|e| e.id), detail);
}

fn short(r: &Response) -> String {
    let s = format!("{r:?}");
    s.chars().take(80).collect()
}
