//! [`SwarmSink`]: a backup's shards onto their responsible peers, every copy
//! confirmed by a possession proof, with complementary separation for the
//! backup's root and a trusted floor against liars.

use super::Net;
use crate::audit;
use crate::catalogue::{add_to_catalogue, CatalogueUpkeep};
use crate::shards::{Put, Reused, Role, ShardSink, SinkError};
use bytes::Bytes;
use libp2p::PeerId;
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::lease::StripeRecord;
use shardnet_protocol::placement::Candidate;
use shardnet_protocol::proof;
use shardnet_protocol::redundancy::{Policy, Scheme};
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{self, Request, Response};
use shardnet_protocol::{Avoid, Lease, MasterKey, Sealed, ShardId, Terms};
use shardnet_store::{PutOutcome, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tracing::debug;

mod pieces;
mod place;

/// Times a store answered `Busy` is sent again (after 0.2, 0.4, 0.8 s).
const STORE_BUSY_RETRIES: u32 = 3;

/// The receipt challenge of one shard, shared by all its copies: each
/// holder was just sent the bytes, so one nonce proves receipt as well as
/// one per holder would (an answer can be relayed from another holder
/// either way, see `protocol::proof`), and the sender hashes the shard
/// once instead of once per copy.
pub(super) struct Receipt {
    nonce: proof::Nonce,
    expected: audit::Expected,
}

impl Receipt {
    pub(super) fn new(id: ShardId, bytes: &[u8]) -> Self {
        let nonce = audit::nonce();
        Receipt {
            nonce,
            expected: audit::Expected {
                id,
                size: bytes.len() as u64,
                answer: proof::answer(&nonce, &id, bytes),
            },
        }
    }
}

/// A store's bytes and their receipt challenge (none: a renewal).
pub(super) type Payload<'b> = Option<(&'b Bytes, &'b Receipt)>;

pub struct SwarmSink<'a> {
    net: &'a Net,
    store: &'a Store,
    master: &'a MasterKey,
    candidates: Vec<Candidate<PeerId>>,
    /// Shards of this backup each peer was given, for complementary separation.
    holders: Mutex<HashMap<PeerId, usize>>,
    placed: AtomicUsize,
    warnings: Mutex<BTreeSet<String>>,
    /// Peers that refused a store as full during this backup.
    refused: Mutex<std::collections::HashSet<PeerId>>,
    /// How file chunks are kept: copies, or pieces.
    policy: Policy,
}

impl<'a> SwarmSink<'a> {
    /// Copies per shard are the lease's (its terms: the tier's, or a
    /// lifecycle rule's).
    pub fn new(net: &'a Net, store: &'a Store, master: &'a MasterKey) -> Self {
        SwarmSink {
            net,
            store,
            master,
            candidates: net.view.candidates(),
            holders: Mutex::new(HashMap::new()),
            placed: AtomicUsize::new(0),
            warnings: Mutex::new(BTreeSet::new()),
            refused: Mutex::new(Default::default()),
            policy: Policy::Replicate,
        }
    }

    /// File chunks are kept as `policy` says (whole copies by default).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn warn(&self, w: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(w);
    }

    /// Sends (or renews) one shard on one peer; true when confirmed.
    async fn send(
        &self,
        peer: PeerId,
        id: ShardId,
        lease: Lease,
        payload: Payload<'_>,
        avoid: Option<&Avoid>,
        record: Option<&StripeRecord>,
    ) -> Result<(), String> {
        let receipt = payload.map(|(_, r)| r);
        let bytes = payload.map(|(b, _)| &b[..]);
        if peer == self.net.client.local_peer_id() {
            return match bytes {
                Some(b) => match self.store.put_shard(&id, b, lease) {
                    Ok(PutOutcome::Stored) => {
                        self.net.usage.add(lease.owner, b.len() as u64);
                        match avoid {
                            Some(a) => self.store.set_avoid(&id, a).map_err(|e| e.to_string()),
                            None => Ok(()),
                        }
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                None => match self
                    .store
                    .add_lease(&id, lease)
                    .and_then(|held| match record {
                        Some(r) if held => self.store.set_stripe(&id, r),
                        _ => Ok(held),
                    }) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err("not held".into()),
                    Err(e) => Err(e.to_string()),
                },
            };
        }
        let req = || match payload {
            Some((b, r)) => Request::StoreProve {
                id,
                leases: vec![lease],
                bytes: b.clone(),
                avoid: avoid.cloned().map(Box::new),
                nonce: r.nonce,
            },
            // A piece's renewal carries its stripe's record (a peer of an
            // earlier build gets the plain renewal).
            None => match record {
                Some(r) => Request::Stripe {
                    id,
                    record: Box::new(r.clone()),
                },
                None => Request::Renew { id, lease },
            },
        };
        if let Some(b) = bytes {
            self.net.live.bandwidth.backup.take(b.len() as u64).await;
        }
        // A busy peer (its write queue full) is asked again, briefly.
        let mut answer = self.net.client.request(peer, req()).await;
        for attempt in 1..=STORE_BUSY_RETRIES {
            if !matches!(answer, Ok(Response::Rejected(wire::Reject::Busy))) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            answer = self.net.client.request(peer, req()).await;
        }
        match answer {
            Ok(Response::StoredProof(answer)) => match receipt {
                Some(r) if audit::receipt(&self.net.audits, peer, &r.expected, answer) => Ok(()),
                Some(_) => Err("sent a wrong proof of receipt".into()),
                None => Err("answered a renewal with a proof of receipt".into()),
            },
            // A peer of an earlier build (protocol version 1): a separate
            // challenge proves receipt.
            Ok(Response::Stored) => match receipt {
                Some(r) => self.prove_receipt(peer, r).await,
                None => Ok(()),
            },
            Ok(Response::Renewed) => Ok(()),
            Ok(Response::Rejected(wire::Reject::Full)) => {
                self.refused_store(peer, id);
                Err(wire::Reject::Full.to_string())
            }
            Ok(Response::Rejected(r)) => Err(r.to_string()),
            Ok(Response::NotFound) => Err("not held".into()),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `peer` refused a store as full while its heartbeat announced room
    /// for it (placement only sends to peers that do): evidence, once per
    /// backup and peer, since an honest node may fill up between two
    /// heartbeats (a quarter of a failed proof: four backups in a row make
    /// one).
    fn refused_store(&self, peer: PeerId, id: ShardId) {
        let first = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer);
        if first {
            let room = self
                .candidates
                .iter()
                .find(|c| c.peer == peer)
                .map_or(0, |c| c.capacity.saturating_sub(c.used));
            self.net.audits.record(
                peer,
                Evidence::RefusedStore,
                Some(id),
                format!("refused a store as full while announcing {room} bytes free"),
            );
        }
    }

    /// A `Stored` answer (from a peer that speaks only version 1 of the
    /// shard protocol, so no `StoredProof`) is a claim: the copy counts once
    /// `peer` proves it holds the bytes under a fresh nonce. A wrong or missing proof is a
    /// false acknowledgement (evidence against the peer), and the copy goes
    /// to the next peer in line.
    async fn prove_receipt(&self, peer: PeerId, receipt: &Receipt) -> Result<(), String> {
        let id = receipt.expected.id;
        // A busy peer is asked again (briefly): busy is no answer either way.
        for attempt in 0..3u64 {
            let round = audit::challenge(
                &self.net.client,
                &self.net.audits,
                peer,
                receipt.nonce,
                &[receipt.expected],
                false,
                Evidence::FalseAck,
            )
            .await;
            if round.proved.contains(&id) {
                return Ok(());
            }
            if !round.busy {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * (attempt + 1))).await;
        }
        Err("acknowledged the copy but did not prove it holds the bytes".into())
    }

    fn record(&self, peers: &[PeerId]) {
        let mut h = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        for p in peers {
            *h.entry(*p).or_insert(0) += 1;
        }
        self.placed.fetch_add(1, Ordering::SeqCst);
    }
}

impl ShardSink for SwarmSink<'_> {
    fn reuse(&self, index_key: &[u8; 32], terms: &Terms) -> Result<Option<Reused>, SinkError> {
        if let scheme @ Scheme::Rs { .. } = self.policy.scheme(terms.copies as usize) {
            let Some((stripe, size)) = self
                .store
                .lookup_stripe(&pieces::index_key(index_key, scheme))?
            else {
                return Ok(None);
            };
            // A piece no holder renewed: the chunk is cut and stored again
            // (the same pieces, so held ones are not sent twice).
            if !self.renew_pieces(&stripe, terms) {
                return Ok(None);
            }
            return Ok(Some(Reused {
                id: stripe.shard,
                size,
                stripe: Some(stripe),
            }));
        }
        let Some((id, size)) = self.store.lookup_chunk_any(index_key)? else {
            return Ok(None);
        };
        match self.place(id, size as u64, terms, None, false) {
            Ok(peers) => {
                self.record(&peers);
                Ok(Some(Reused {
                    id,
                    size: size as u64,
                    stripe: None,
                }))
            }
            // Some holder lost it: send the bytes again.
            Err(_) => Ok(None),
        }
    }

    fn put(&self, shard: &Sealed, terms: &Terms, role: Role) -> Result<Put, SinkError> {
        let scheme = match role {
            Role::Data => self.policy.scheme(terms.copies as usize),
            Role::Manifest | Role::Root => Scheme::Replicate {
                copies: terms.copies,
            },
        };
        self.put_as(shard, terms, scheme, role == Role::Root)
    }

    fn remember(&self, index_key: &[u8; 32], id: &ShardId, put: &Put) -> Result<(), SinkError> {
        match &put.stripe {
            Some(s) => Ok(self.store.index_stripe(
                &pieces::index_key(index_key, s.scheme()),
                s,
                put.size,
            )?),
            None => Ok(self.store.index_chunk(index_key, id, put.size as u32)?),
        }
    }

    fn commit(&self, entry: &CatalogueEntry) -> Result<(), SinkError> {
        self.store.flush()?;
        self.store.put_backup(entry)?;
        match add_to_catalogue(self.net, self.store, self.master, entry)
            .map_err(SinkError::Catalogue)?
        {
            CatalogueUpkeep::NoQuorum { answered, asked } => self.warn(format!(
                "only {answered} of the {asked} holders of this owner's catalogue answered, so it was not republished (a record built without them could drop backups only they list); the backup is complete and recorded on this node, and the catalogue's upkeep publishes it once a majority answers"
            )),
            other => debug!("catalogue: {other:?}"),
        }
        Ok(())
    }
}

impl SwarmSink<'_> {
    /// Stores `shard` as `scheme` says: pieces when it is Reed–Solomon and
    /// the swarm has a peer for every piece, else whole copies (`last`: the
    /// backup's root).
    pub fn put_as(
        &self,
        shard: &Sealed,
        terms: &Terms,
        scheme: Scheme,
        last: bool,
    ) -> Result<Put, SinkError> {
        if let Scheme::Rs { .. } = scheme {
            if let Some(put) = self.put_pieces(shard, terms, scheme)? {
                return Ok(put);
            }
        }
        let peers = self.place(
            shard.id(),
            shard.bytes().len() as u64,
            terms,
            Some(shard.bytes()),
            last,
        )?;
        self.record(&peers);
        Ok(Put {
            new: true,
            size: shard.bytes().len() as u64,
            stripe: None,
        })
    }
}
