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

mod proofs;
mod rate;
mod usage;
mod write;

use crate::rate::PerPeer;
use proofs::{healthy, prove, sample};
use rate::{CATALOGUES_PER_MINUTE, LIST_READS_PER_MINUTE, RENEWS_PER_MINUTE};
use write::{queue_write, writer, WriteJob, WRITE_QUEUE};

pub use usage::{Limits, Usage};
pub use write::{sibling_here, SIBLING_HELD};

use crate::swarm::{Client, Event};
use libp2p::PeerId;
use shardnet_protocol::wire::{self, Reject, Request, Response};
use shardnet_protocol::{lease, Lease, OwnerId, ShardId};
use shardnet_store::{ShardState, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

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
    let mut catalogue_rate = PerPeer::per_minute(CATALOGUES_PER_MINUTE);
    let mut renew_rate = PerPeer::per_minute(RENEWS_PER_MINUTE);
    let mut list_rate = PerPeer::per_minute(LIST_READS_PER_MINUTE);
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
                        bytes: Some(bytes.into()),
                        nonce: None,
                        stripe: None,
                        channel,
                    };
                    queue_write(&wtx, &queued, job, &client).await;
                }
                Request::StoreProve {
                    id,
                    leases,
                    bytes,
                    avoid,
                    nonce,
                } => {
                    let job = WriteJob {
                        peer,
                        id,
                        leases,
                        avoid: avoid.map(|a| *a),
                        bytes: Some(bytes),
                        nonce: Some(nonce),
                        stripe: None,
                        channel,
                    };
                    queue_write(&wtx, &queued, job, &client).await;
                }
                Request::Renew { .. } | Request::Release { .. } | Request::Stripe { .. }
                    if !renew_rate.allow(peer, std::time::Instant::now()) =>
                {
                    client
                        .respond(channel, Response::Rejected(Reject::Busy))
                        .await;
                }
                Request::Renew { id, lease } => {
                    let job = WriteJob::renewal(peer, id, lease, None, channel);
                    queue_write(&wtx, &queued, job, &client).await;
                }
                Request::Stripe { id, record } => {
                    let Some(lease) = record.index_of(&id).and_then(|i| record.lease(i)) else {
                        let why = "the stripe record does not list this piece".to_string();
                        client
                            .respond(channel, Response::Rejected(Reject::BadLease(why)))
                            .await;
                        continue;
                    };
                    let job = WriteJob::renewal(peer, id, lease, Some(record), channel);
                    queue_write(&wtx, &queued, job, &client).await;
                }
                other => {
                    // Reads, each holding up to a shard (or a member list)
                    // until answered; none while unread answers are over the
                    // budget. Catalogue
                    // records (each a flushed write) at a few per peer and
                    // minute: an owner publishes one per backup.
                    let over = (matches!(
                        other,
                        Request::Fetch { .. }
                            | Request::Members
                            | Request::Digest { .. }
                            | Request::Records { .. }
                    ) && client.responses_in_flight() > crate::swarm::RESPONSE_BUDGET)
                        || (matches!(other, Request::PutCatalogue(_))
                            && !catalogue_rate.allow(peer, std::time::Instant::now()))
                        || (matches!(
                            other,
                            Request::Members | Request::Digest { .. } | Request::Records { .. }
                        ) && !list_rate.allow(peer, std::time::Instant::now()));
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
            Event::Gossip { .. }
            | Event::Pinged { .. }
            | Event::Connected { .. }
            | Event::Unreachable { .. } => {}
        }
    }
    drop(wtx);
    let _ = writer.await;
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
        // Half a frame at most, whatever the records hold.
        Request::Members => Response::Members(view.member_records(
            shardnet_protocol::wire::MAX_MEMBERS,
            shardnet_protocol::wire::MAX_FRAME_LEN / 2,
        )),
        // A digest of the wrong shape would get every summary, a cheap way
        // to make this node send its whole list: refused instead.
        Request::Digest { buckets } if wire::check_digest(&buckets) => {
            let theirs = shardnet_protocol::digest::Digest(buckets);
            Response::Summaries(shardnet_protocol::digest::answer(
                &view.digest_entries(),
                &theirs,
            ))
        }
        Request::Records { prefixes } if wire::check_records(&prefixes) => {
            Response::Members(view.records_by_prefix(&prefixes, wire::MAX_FRAME_LEN / 2))
        }
        Request::Digest { .. } | Request::Records { .. } => {
            Response::Rejected(Reject::Internal("digest or pull out of bounds".into()))
        }
        Request::Hello
        | Request::Store { .. }
        | Request::StoreProve { .. }
        | Request::Renew { .. }
        | Request::Stripe { .. }
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
