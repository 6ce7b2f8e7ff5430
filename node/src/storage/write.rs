//! The write path: store requests queued without waiting, written in groups
//! through the WAL and made durable by one WAL sync per group (group
//! commit), and answered only once durable.

use super::{Limits, Usage};
use crate::swarm::{Client, Reply};
use libp2p::PeerId;
use shardnet_protocol::envelope::MAX_SHARD_LEN;
use shardnet_protocol::lease::StripeRecord;
use shardnet_protocol::wire::{Reject, Response};
use shardnet_protocol::{lease, Avoid, Lease, ShardId};
use shardnet_store::{PutOutcome, ShardState, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Most bytes of store requests committed by one group.
pub(super) const GROUP_COMMIT_BYTES: usize = 64 << 20;
/// Store requests waiting for the writer; more are answered `Busy`.
pub(super) const WRITE_QUEUE: usize = 64;
/// Bytes of store requests waiting for the writer; more are answered `Busy`.
pub(super) const WRITE_QUEUE_BYTES: u64 = 128 << 20;

pub(super) struct WriteJob {
    pub(super) peer: PeerId,
    pub(super) id: ShardId,
    /// Unverified as received: `apply` checks every signature.
    pub(super) leases: Vec<Lease>,
    pub(super) avoid: Option<Avoid>,
    pub(super) bytes: Option<bytes::Bytes>,
    /// A `StoreProve`'s challenge: answered from `bytes` once durable.
    pub(super) nonce: Option<[u8; 32]>,
    /// A `Stripe`'s record (its lease of `id` is in `leases`); unverified.
    pub(super) stripe: Option<Box<StripeRecord>>,
    pub(super) channel: Reply,
}

impl WriteJob {
    /// A renewal of `id`'s `lease`, with the piece's stripe record when
    /// it came with one.
    pub(super) fn renewal(
        peer: PeerId,
        id: ShardId,
        lease: Lease,
        stripe: Option<Box<StripeRecord>>,
        channel: Reply,
    ) -> Self {
        WriteJob {
            peer,
            id,
            leases: vec![lease],
            avoid: None,
            bytes: None,
            nonce: None,
            stripe,
            channel,
        }
    }
}

/// Applies one store or renew request; the flush comes later, for the group.
/// Only leases signed by their owners for this shard count: quotas are
/// charged to verified owners, and copies and terms are the owner's.
pub(super) fn apply(store: &Store, usage: &Usage, limits: &Limits, job: &WriteJob) -> Response {
    let now = crate::output::now_unix();
    let (leases, why) = lease::verified(&job.id, &job.leases, now);
    let Some(&first) = leases.first() else {
        let why = why.map_or_else(|| "no lease".to_string(), |e| e.to_string());
        warn!(peer = %job.peer, shard = %job.id, "refused a lease: {why}");
        return Response::Rejected(Reject::BadLease(why));
    };
    let Some(bytes) = &job.bytes else {
        if let Some(record) = &job.stripe {
            return keep_stripe(store, limits, job, first, record, now);
        }
        return match store.add_lease(&job.id, first) {
            Ok(true) => Response::Renewed,
            Ok(false) => Response::NotFound,
            Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
        };
    };
    if usage.draining.load(Ordering::Relaxed) {
        return Response::Rejected(Reject::Draining);
    }
    let size = bytes.len() as u64;
    let held = matches!(store.meta(&job.id), Ok(Some(m)) if m.state == ShardState::Healthy);
    if !held {
        if bytes.len() > MAX_SHARD_LEN
            || usage.used.load(Ordering::Relaxed) + size > limits.capacity
        {
            warn!(peer = %job.peer, shard = %job.id, size, "refused shard: capacity reached");
            return Response::Rejected(Reject::Full);
        }
        if usage.owner(&first.owner) + size > limits.quota_per_owner {
            warn!(peer = %job.peer, shard = %job.id, owner = %first.owner, "refused shard: owner over quota");
            return Response::Rejected(Reject::OverQuota);
        }
    }
    // Separation is the owner's word only: an avoid list counts when signed
    // by an owner whose lease came with it. (Repair never places a copy on
    // this node by a list that names it: `scan` leaves the own key out.)
    let avoid = job.avoid.as_ref().filter(|a| {
        let ok = a.verify(&job.id).is_ok() && leases.iter().any(|l| l.owner == a.owner);
        if !ok {
            warn!(peer = %job.peer, shard = %job.id, "ignored an avoid list not signed by an owner of the shard");
        }
        ok
    });
    let put = store.put_shard(&job.id, bytes, first).and_then(|o| {
        for l in &leases[1..] {
            store.add_lease(&job.id, *l)?;
        }
        if let Some(a) = avoid {
            store.set_avoid(&job.id, a)?;
        }
        Ok(o)
    });
    match put {
        Ok(PutOutcome::Stored) => {
            usage.add(first.owner, size);
            Response::Stored
        }
        // A repaired copy was counted in `used` all along.
        Ok(PutOutcome::Repaired) | Ok(PutOutcome::AlreadyPresent) => Response::Stored,
        Err(StoreError::IdMismatch { id, actual }) => {
            warn!(peer = %job.peer, shard = %id, %actual, "refused shard: bytes do not match the id (peer sent bad data)");
            Response::Rejected(Reject::IdMismatch)
        }
        Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
    }
}

/// A `Stripe` request: the piece's lease in the record is renewed, and the
/// record kept, when the record is its owner's and lists this piece.
fn keep_stripe(
    store: &Store,
    limits: &Limits,
    job: &WriteJob,
    lease: Lease,
    record: &StripeRecord,
    now: u64,
) -> Response {
    let checked = record.verify(&job.id, now).and_then(|_| {
        if record.owner == lease.owner {
            Ok(())
        } else {
            Err(lease::LeaseError::BadStripe(
                "signed by another owner than its lease".into(),
            ))
        }
    });
    if let Err(e) = checked {
        warn!(peer = %job.peer, shard = %job.id, "refused a stripe record: {e}");
        return Response::Rejected(Reject::BadLease(e.to_string()));
    }
    if let Some(sibling) = sibling_here(store, &limits.key, &job.id, record) {
        // Two pieces of a stripe on one node are lost together. Two holders
        // that hand sibling pieces to this node at once each ask first and
        // each find none here; the second record to arrive shows it. This
        // piece goes to quarantine (not served, not counted, purged only
        // once its copies elsewhere are proven); its sender keeps its own.
        let why = format!("stripe sibling {sibling} is held here");
        warn!(peer = %job.peer, shard = %job.id, "refused a second piece of a stripe: {why}");
        // The record is kept with it: the quarantine pass reads the
        // siblings there, and keeps the copy out of service meanwhile.
        let kept = store
            .add_lease(&job.id, lease)
            .and_then(|_| store.set_stripe(&job.id, record))
            .and_then(|_| store.quarantine(&job.id, &why));
        return match kept {
            Ok(_) => Response::Rejected(Reject::BadLease(format!("{SIBLING_HELD}: {why}"))),
            Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
        };
    }
    match store
        .add_lease(&job.id, lease)
        .and_then(|held| Ok(held && store.set_stripe(&job.id, record)?))
    {
        Ok(true) => Response::Renewed,
        Ok(false) => Response::NotFound,
        Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
    }
}

/// Starts the reason of a `Stripe` refused because this node holds a
/// sibling piece (senders take it as "keep apart", not as a failure).
pub const SIBLING_HELD: &str = "a sibling piece is held here";

/// A healthy sibling of piece `id` (of `record`'s stripe) held here, unless
/// the owner placed the piece here knowingly (its avoid list, signed by the
/// owner, names this node, `key`: separation yielded to durability in a
/// small swarm). Also read by the quarantine pass: such a piece stays out of
/// service while its sibling is here.
pub fn sibling_here(
    store: &Store,
    key: &shardnet_protocol::placement::Key,
    id: &ShardId,
    record: &StripeRecord,
) -> Option<ShardId> {
    let meta = store.meta(id).ok().flatten()?;
    if meta.avoid_keys().contains(key) {
        return None;
    }
    record
        .stripe
        .pieces
        .iter()
        .copied()
        .find(|p| p != id && matches!(store.meta(p), Ok(Some(m)) if m.state == ShardState::Healthy))
}

/// A durable copy's answer to a `StoreProve`: the proof of receipt over
/// the bytes received (`apply` stored them only if they hash to the id, so
/// they are the copy now held).
fn with_proof(job: &WriteJob, r: Response) -> Response {
    match (r, job.nonce, &job.bytes) {
        (Response::Stored, Some(nonce), Some(bytes)) => {
            Response::StoredProof(shardnet_protocol::proof::answer(&nonce, &job.id, bytes))
        }
        (r, _, _) => r,
    }
}

/// Queues a write for the writer, or answers `Busy` when the queue is full
/// (by count or bytes): the service never waits on the writer, so reads and
/// proofs keep being answered while the disk is slow.
pub(super) async fn queue_write(
    wtx: &mpsc::Sender<WriteJob>,
    queued: &AtomicU64,
    job: WriteJob,
    client: &Client,
) {
    let len = job.bytes.as_ref().map_or(0, |b| b.len() as u64);
    if queued.load(Ordering::Relaxed) + len > WRITE_QUEUE_BYTES {
        client
            .respond(job.channel, Response::Rejected(Reject::Busy))
            .await;
        return;
    }
    queued.fetch_add(len, Ordering::Relaxed);
    match wtx.try_send(job) {
        Ok(()) => {}
        Err(e) => {
            let job = e.into_inner();
            queued.fetch_sub(len, Ordering::Relaxed);
            client
                .respond(job.channel, Response::Rejected(Reject::Busy))
                .await;
        }
    }
}

pub(super) async fn writer(
    store: Arc<Store>,
    client: Client,
    usage: Arc<Usage>,
    limits: Limits,
    mut rx: mpsc::Receiver<WriteJob>,
    queued: Arc<AtomicU64>,
) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut bytes = group[0].bytes.as_ref().map_or(0, |b| b.len());
        while bytes < GROUP_COMMIT_BYTES {
            match rx.try_recv() {
                Ok(j) => {
                    bytes += j.bytes.as_ref().map_or(0, |b| b.len());
                    group.push(j);
                }
                Err(_) => break,
            }
        }
        let (s, u, l) = (store.clone(), usage.clone(), limits.clone());
        let answered = tokio::task::spawn_blocking(move || {
            let mut out: Vec<(Reply, Response)> = Vec::with_capacity(group.len());
            // One WAL sync makes the group durable (`Store::logged`).
            let responses = s.logged(|| group.iter().map(|j| apply(&s, &u, &l, j)).collect());
            let responses: Vec<Response> = match responses {
                Ok(r) => r,
                // Nothing is acknowledged unless it is durable.
                Err(e) => group
                    .iter()
                    .map(|_| Response::Rejected(Reject::Internal(format!("commit failed: {e}"))))
                    .collect(),
            };
            debug!(n = group.len(), bytes, "group commit");
            for (j, r) in group.into_iter().zip(responses) {
                let r = with_proof(&j, r);
                out.push((j.channel, r));
            }
            out
        })
        .await;
        // Written (or refused): their bytes leave the queue's budget.
        queued.fetch_sub(bytes as u64, Ordering::Relaxed);
        match answered {
            Ok(list) => {
                for (ch, r) in list {
                    client.respond(ch, r).await;
                }
            }
            Err(e) => warn!("storage writer task failed: {e}"),
        }
    }
}
