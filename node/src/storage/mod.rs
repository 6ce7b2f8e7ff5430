//! The storage service: answers other peers' shard requests from the local
//! store. Stores are acknowledged only once durable: a writer task takes every
//! store request that is waiting, writes them, flushes the store once for the
//! whole group (group commit), then answers them all. Capacity and per-owner
//! quotas are checked before anything is written; a shard whose bytes do not
//! hash to its id is refused and logged.
//!
//! Possession proofs (`Prove`, and `Sample` for verifiers without a copy)
//! are answered from the healthy copy only, read
//! and re-hashed (a rotten copy is marked corrupted on the way), with at most
//! [`PROOFS_AT_ONCE`] batches computed at a time: a flood of challenges gets
//! `Busy` (one is no evidence; several rounds in a row count as a timed-out
//! audit, `audit::BUSY_ROUNDS`). Quarantined and
//! corrupted copies are neither served nor proved.

mod usage;

pub use usage::{Limits, Usage};

use crate::swarm::{Client, Event, Reply};
use libp2p::PeerId;
use shardnet_protocol::envelope::MAX_SHARD_LEN;
use shardnet_protocol::wire::{Reject, Request, Response};
use shardnet_protocol::{lease, Avoid, Lease, OwnerId, ShardId};
use shardnet_store::{PutOutcome, ShardState, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Most bytes of store requests committed by one flush.
const GROUP_COMMIT_BYTES: usize = 64 << 20;
/// Store requests waiting for the writer; more are answered `Busy`.
const WRITE_QUEUE: usize = 64;
/// Bytes of store requests waiting for the writer; more are answered `Busy`.
const WRITE_QUEUE_BYTES: u64 = 128 << 20;
/// Read requests (fetch, has, catalogue) being answered at once; more are
/// answered `Busy` (each may hold a shard until its answer is queued).
const ANSWERS_AT_ONCE: usize = 32;
/// Proof batches computed at once (each reads up to 64 MiB).
const PROOFS_AT_ONCE: usize = 2;
/// Proof batches that may wait for a slot (each holds only its request).
const PROOFS_WAITING: usize = 32;
/// How long a waiting batch waits before it is answered `Busy` (well within
/// the challenger's deadline).
const PROOF_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

struct WriteJob {
    peer: PeerId,
    id: ShardId,
    /// Unverified as received: `apply` checks every signature.
    leases: Vec<Lease>,
    avoid: Option<Avoid>,
    bytes: Option<Vec<u8>>,
    channel: Reply,
}

/// Runs the service until the event channel closes.
pub async fn run(
    store: Arc<Store>,
    client: Client,
    usage: Arc<Usage>,
    limits: Limits,
    view: Arc<crate::membership::View>,
    mut events: mpsc::Receiver<Event>,
) {
    let (wtx, wrx) = mpsc::channel::<WriteJob>(WRITE_QUEUE);
    let queued = Arc::new(AtomicU64::new(0));
    let answers = Arc::new(tokio::sync::Semaphore::new(ANSWERS_AT_ONCE));
    let mut catalogue_rate = PerPeer::new(CATALOGUES_PER_MINUTE);
    let mut renew_rate = PerPeer::new(RENEWS_PER_MINUTE);
    let proofs = Arc::new(tokio::sync::Semaphore::new(PROOFS_AT_ONCE));
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = tokio::spawn(writer(
        store.clone(),
        client.clone(),
        usage.clone(),
        limits.clone(),
        wrx,
        queued.clone(),
    ));
    while let Some(ev) = events.recv().await {
        match ev {
            Event::InboundRequest {
                peer,
                request,
                channel,
            } => match request {
                req @ (Request::Prove { .. } | Request::Sample { .. }) => {
                    // A few batches wait for a slot; beyond that, `Busy`.
                    if waiting.fetch_add(1, Ordering::Relaxed) >= PROOFS_WAITING {
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        client
                            .respond(channel, Response::Rejected(Reject::Busy))
                            .await;
                        continue;
                    }
                    let (store, client, proofs, waiting) = (
                        store.clone(),
                        client.clone(),
                        proofs.clone(),
                        waiting.clone(),
                    );
                    tokio::spawn(async move {
                        let permit = tokio::time::timeout(PROOF_WAIT, proofs.acquire_owned()).await;
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        let Ok(Ok(permit)) = permit else {
                            client
                                .respond(channel, Response::Rejected(Reject::Busy))
                                .await;
                            return;
                        };
                        let resp = tokio::task::spawn_blocking(move || match req {
                            Request::Prove { nonce, ids } => prove(&store, &nonce, &ids),
                            Request::Sample { id, offsets } => sample(&store, &id, &offsets),
                            _ => Response::Rejected(Reject::Internal("not a proof".into())),
                        })
                        .await
                        .unwrap_or_else(|e| Response::Rejected(Reject::Internal(e.to_string())));
                        drop(permit);
                        client.respond(channel, resp).await;
                    });
                }
                Request::Store {
                    id,
                    leases,
                    bytes,
                    avoid,
                } => {
                    let job = WriteJob {
                        peer,
                        id,
                        leases,
                        avoid,
                        bytes: Some(bytes),
                        channel,
                    };
                    queue_write(&wtx, &queued, job, &client).await;
                }
                Request::Renew { .. } | Request::Release { .. }
                    if !renew_rate.allow(peer, std::time::Instant::now()) =>
                {
                    client
                        .respond(channel, Response::Rejected(Reject::Busy))
                        .await;
                }
                Request::Renew { id, lease } => {
                    let job = WriteJob {
                        peer,
                        id,
                        leases: vec![lease],
                        avoid: None,
                        bytes: None,
                        channel,
                    };
                    queue_write(&wtx, &queued, job, &client).await;
                }
                other => {
                    // Reads, each holding up to a shard until answered; none
                    // while unread answers are over the budget. Catalogue
                    // records (each a flushed write) at a few per peer and
                    // minute: an owner publishes one per backup.
                    let over = (matches!(other, Request::Fetch { .. })
                        && client.responses_in_flight() > crate::swarm::RESPONSE_BUDGET)
                        || (matches!(other, Request::PutCatalogue(_))
                            && !catalogue_rate.allow(peer, std::time::Instant::now()));
                    let permit = answers.clone().try_acquire_owned().ok().filter(|_| !over);
                    let Some(permit) = permit else {
                        client
                            .respond(channel, Response::Rejected(Reject::Busy))
                            .await;
                        continue;
                    };
                    let (store, client, view) = (store.clone(), client.clone(), view.clone());
                    let room = limits
                        .capacity
                        .saturating_sub(usage.used.load(Ordering::Relaxed));
                    let keeps_owner = matches!(&other,
                        Request::PutCatalogue(c) if usage.owner(&OwnerId(c.owner)) > 0);
                    let usage = usage.clone();
                    tokio::spawn(async move {
                        let resp = tokio::task::spawn_blocking(move || match other {
                            Request::Release {
                                id,
                                release,
                                replacement,
                            } => release_lease(
                                &store,
                                &usage,
                                peer,
                                &id,
                                &release,
                                replacement.map(|l| *l),
                            ),
                            other => answer(&store, peer, other, (&view, keeps_owner), room),
                        })
                        .await
                        .unwrap_or_else(|e| Response::Rejected(Reject::Internal(e.to_string())));
                        client.pace_upload(&resp).await;
                        drop(permit);
                        client.respond(channel, resp).await;
                    });
                }
            },
            Event::Gossip { .. } | Event::Pinged { .. } | Event::Connected { .. } => {}
        }
    }
    drop(wtx);
    let _ = writer.await;
}

/// Answers a possession challenge from the healthy copies held.
fn prove(store: &Store, nonce: &[u8; 32], ids: &[ShardId]) -> Response {
    if !shardnet_protocol::wire::check_prove(ids) {
        return Response::Rejected(Reject::Internal("bad number of ids".into()));
    }
    Response::Proofs(
        ids.iter()
            .map(|id| {
                if !healthy(store, id) {
                    return None;
                }
                let bytes = store.get_shard(id).ok()?;
                Some(shardnet_protocol::proof::answer(nonce, id, &bytes))
            })
            .collect(),
    )
}

/// Answers a sampled proof (Bao slices) from the healthy copy held.
fn sample(store: &Store, id: &ShardId, offsets: &[u64]) -> Response {
    if !shardnet_protocol::wire::check_sample(offsets) {
        return Response::Rejected(Reject::Internal("bad number of offsets".into()));
    }
    if !healthy(store, id) {
        return Response::NotFound;
    }
    match store.get_shard(id) {
        Ok(bytes) => Response::Samples(
            shardnet_protocol::sample::extract(&bytes, offsets)
                .into_iter()
                .map(serde_bytes::ByteBuf::from)
                .collect(),
        ),
        Err(_) => Response::NotFound,
    }
}

fn healthy(store: &Store, id: &ShardId) -> bool {
    matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy)
}

/// Answers the requests that need no write.
fn answer(
    store: &Store,
    peer: PeerId,
    req: Request,
    (view, keeps_owner): (&crate::membership::View, bool),
    room: u64,
) -> Response {
    match req {
        Request::Fetch { id } if !healthy(store, &id) => Response::NotFound,
        Request::Fetch { id } => match store.get_shard(&id) {
            Ok(bytes) => Response::Shard(bytes),
            Err(StoreError::NotFound { .. }) => Response::NotFound,
            Err(e) => {
                warn!(%peer, shard = %id, "cannot serve shard: {e}");
                Response::NotFound
            }
        },
        Request::Has { ids } => {
            if !shardnet_protocol::wire::check_has(&ids) {
                return Response::Rejected(Reject::Internal("too many ids".into()));
            }
            Response::Has(
                ids.iter()
                    .map(|id| matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy))
                    .collect(),
            )
        }
        Request::PutCatalogue(c) => {
            if c.verify().is_err() {
                warn!(%peer, "refused a catalogue with an invalid signature");
                return Response::Rejected(Reject::BadSignature);
            }
            // Only the slot's holders keep a record (with a margin for views
            // that differ), or a peer that keeps the owner's data (the
            // owner's trusted floor, see catalogue.rs), and only with room:
            // a flood of self-signed records for fresh owner keys lands
            // nowhere else.
            let slot = shardnet_protocol::catalogue::slot(&c.owner);
            let holders = shardnet_protocol::placement::responsible_set(
                &slot,
                0,
                &view.candidates(),
                shardnet_protocol::catalogue::CATALOGUE_COPIES + shardnet_protocol::repair::SPILL,
            );
            if !holders.contains(&view.local()) && !keeps_owner {
                debug!(%peer, "refused a catalogue for a slot this node does not hold");
                return Response::Rejected(Reject::NotResponsible);
            }
            if (c.sealed.len() as u64) > room {
                return Response::Rejected(Reject::Full);
            }
            match store.put_catalogue(&c) {
                Ok(true) => Response::CatalogueStored,
                Ok(false) => Response::Rejected(Reject::Stale),
                Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
            }
        }
        Request::GetCatalogue { owner } => match store.get_catalogue(&owner) {
            Ok(c) => Response::Catalogue(c),
            Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
        },
        Request::Store { .. }
        | Request::Renew { .. }
        | Request::Release { .. }
        | Request::Prove { .. }
        | Request::Sample { .. } => Response::Rejected(Reject::Internal("misrouted".into())),
    }
}

/// Applies an owner's signed release (`backup delete`): the owner's lease
/// goes, and with it the shard's charge to the owner; the copy stays until
/// prune finds no live lease on it. Forged or stale releases change nothing.
fn release_lease(
    store: &Store,
    usage: &Usage,
    peer: PeerId,
    id: &ShardId,
    release: &shardnet_protocol::lease::Release,
    replacement: Option<Lease>,
) -> Response {
    let now = crate::output::now_unix();
    let checked = release.verify(id, now).and_then(|()| match &replacement {
        Some(l) if l.owner != release.owner => Err(lease::LeaseError::BadSignature),
        Some(l) => l.verify(id, now),
        None => Ok(()),
    });
    if let Err(e) = checked {
        warn!(%peer, shard = %id, "refused a lease release: {e}");
        return Response::Rejected(Reject::BadLease(e.to_string()));
    }
    match store.release_lease(id, release, replacement) {
        Ok(Some(size)) => {
            if replacement.is_none() {
                usage.release(&release.owner, size);
            }
            Response::Released(true)
        }
        Ok(None) => Response::Released(false),
        Err(e) => Response::Rejected(Reject::Internal(e.to_string())),
    }
}

/// Applies one store or renew request; the flush comes later, for the group.
/// Only leases signed by their owners for this shard count: quotas are
/// charged to verified owners, and copies and terms are the owner's.
fn apply(store: &Store, usage: &Usage, limits: &Limits, job: &WriteJob) -> Response {
    let now = crate::output::now_unix();
    let (leases, why) = lease::verified(&job.id, &job.leases, now);
    let Some(&first) = leases.first() else {
        let why = why.map_or_else(|| "no lease".to_string(), |e| e.to_string());
        warn!(peer = %job.peer, shard = %job.id, "refused a lease: {why}");
        return Response::Rejected(Reject::BadLease(why));
    };
    let Some(bytes) = &job.bytes else {
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

/// Catalogue records one peer may store here per minute.
const CATALOGUES_PER_MINUTE: u32 = 10;
/// Lease renewals one peer may send here per minute (100 a second: a
/// retention change of 100,000 shards held here takes 17 minutes, and each
/// renewal grows a shard's metadata and the audit log).
const RENEWS_PER_MINUTE: u32 = 6_000;
/// Peers tracked; past this the table starts over.
const RATE_PEERS: usize = 10_000;

/// A fixed one-minute window of requests per peer, answered `Busy` over
/// the limit (senders back off and retry).
struct PerPeer {
    limit: u32,
    windows: HashMap<PeerId, (std::time::Instant, u32)>,
}

impl PerPeer {
    fn new(limit: u32) -> Self {
        PerPeer {
            limit,
            windows: HashMap::new(),
        }
    }

    fn allow(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        if self.windows.len() >= RATE_PEERS && !self.windows.contains_key(&peer) {
            self.windows.clear();
        }
        let (start, n) = self.windows.entry(peer).or_insert((now, 0));
        if now.duration_since(*start) >= std::time::Duration::from_secs(60) {
            *start = now;
            *n = 0;
        }
        *n = n.saturating_add(1);
        *n <= self.limit
    }
}

/// Queues a write for the writer, or answers `Busy` when the queue is full
/// (by count or bytes): the service never waits on the writer, so reads and
/// proofs keep being answered while the disk is slow.
async fn queue_write(
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

async fn writer(
    store: Arc<Store>,
    client: Client,
    usage: Arc<Usage>,
    limits: Limits,
    mut rx: mpsc::Receiver<WriteJob>,
    queued: Arc<AtomicU64>,
) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut bytes = group[0].bytes.as_ref().map_or(0, Vec::len);
        while bytes < GROUP_COMMIT_BYTES {
            match rx.try_recv() {
                Ok(j) => {
                    bytes += j.bytes.as_ref().map_or(0, Vec::len);
                    group.push(j);
                }
                Err(_) => break,
            }
        }
        let (s, u, l) = (store.clone(), usage.clone(), limits.clone());
        let answered = tokio::task::spawn_blocking(move || {
            let mut out: Vec<(Reply, Response)> = Vec::with_capacity(group.len());
            let mut responses: Vec<Response> = group.iter().map(|j| apply(&s, &u, &l, j)).collect();
            if let Err(e) = s.flush() {
                // Nothing is acknowledged unless it is durable.
                for r in responses.iter_mut() {
                    if matches!(r, Response::Stored | Response::Renewed) {
                        *r = Response::Rejected(Reject::Internal(format!("flush failed: {e}")));
                    }
                }
            }
            debug!(n = group.len(), bytes, "group commit");
            for (j, r) in group.into_iter().zip(responses) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn per_peer_limit_is_per_peer_and_per_minute() {
        let mut rate = PerPeer::new(3);
        let (a, b) = (PeerId::random(), PeerId::random());
        let t = Instant::now();
        assert_eq!(
            (0..5).map(|_| rate.allow(a, t)).collect::<Vec<_>>(),
            [true, true, true, false, false]
        );
        assert!(rate.allow(b, t), "another peer has its own window");
        assert!(!rate.allow(a, t + Duration::from_secs(59)));
        assert!(rate.allow(a, t + Duration::from_secs(60)), "a new minute");
    }
}
