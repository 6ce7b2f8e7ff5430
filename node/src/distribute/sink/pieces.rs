//! A file chunk stored as erasure-coded pieces (`redundancy::Policy`): the
//! sealed shard is cut into `k+m` pieces (`redundancy::stripe`), each piece
//! is a shard of its own, kept as one copy under its own lease, and placed
//! by `placement::place_pieces`: one piece per peer, zones capped at `m`,
//! with an owner-signed avoid list so that repair, which moves a piece as
//! it moves any one-copy shard, keeps the pieces apart.
//!
//! Every piece is confirmed by a possession proof of its bytes, as a copy
//! is. The trusted floor (an extra copy on a vetted peer) is not applied:
//! `m` pieces may be lost or lie before the chunk is, which is the point
//! of the scheme, and an extra piece would have to double one up.

use super::{Receipt, SwarmSink};
use crate::shards::{Put, SinkError};
use bytes::Bytes;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::lease::StripeRecord;
use shardnet_protocol::manifest::StripeRef;
use shardnet_protocol::placement::{self, PiecePlace};
use shardnet_protocol::redundancy::stripe::{self, Piece};
use shardnet_protocol::redundancy::Scheme;
use shardnet_protocol::{Sealed, ShardId, Terms};
use std::collections::HashSet;
use std::sync::Mutex;
use tracing::warn;

/// Peers tried per piece: its place, then this many fallbacks.
const FALLBACKS: usize = 4;

/// The dedup key of a chunk kept as `scheme`'s pieces: the same chunk kept
/// as copies, or under another scheme, is another entry.
pub(super) fn index_key(chunk_key: &[u8; 32], scheme: Scheme) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(chunk_key);
    h.update(b"shardnet dedup pieces v1 ");
    h.update(scheme.to_string().as_bytes());
    *h.finalize().as_bytes()
}

impl SwarmSink<'_> {
    /// Cuts `shard` into `scheme`'s pieces and stores every one, each
    /// confirmed by a proof. `None` when the swarm has fewer eligible peers
    /// than pieces: the caller keeps copies (with a warning).
    pub(super) fn put_pieces(
        &self,
        shard: &Sealed,
        terms: &Terms,
        scheme: Scheme,
    ) -> Result<Option<Put>, SinkError> {
        let Scheme::Rs { data, parity } = scheme else {
            return Ok(None);
        };
        let id = shard.id();
        let pieces = stripe::encode(scheme, shard.bytes()).map_err(|e| SinkError::Pieces {
            id,
            reason: e.to_string(),
        })?;
        let ids: Vec<ShardId> = pieces.iter().map(Piece::id).collect();
        let piece_len = pieces.first().map_or(0, |p| p.bytes().len() as u64);
        let Some(places) =
            placement::place_pieces(&ids, piece_len, &self.candidates, parity as usize)
        else {
            let eligible = self
                .candidates
                .iter()
                .filter(|c| c.eligible(piece_len))
                .count();
            self.warn(format!(
                "{scheme} needs a peer for each of its {} pieces and the swarm has {eligible} eligible: those chunks were stored as {} whole copies instead",
                scheme.pieces(),
                terms.copies
            ));
            return Ok(None);
        };
        let one = Terms::new(self.master, terms.expires_at, 1);
        let taken: Mutex<HashSet<PeerId>> = Mutex::new(
            places
                .iter()
                .filter_map(|p| p.order.first().copied())
                .collect(),
        );
        let bytes: Vec<Bytes> = pieces
            .into_iter()
            .map(|p| Bytes::from(p.into_bytes()))
            .collect();
        let size = bytes.iter().map(|b| b.len() as u64).sum();
        let results = self.net.handle.block_on(join_all(
            ids.iter()
                .zip(&bytes)
                .zip(&places)
                .map(|((pid, b), pl)| self.send_piece(*pid, b, pl, (&one, &taken, false))),
        ));
        let stripe = StripeRef {
            shard: id,
            data,
            parity,
            pieces: ids,
        };
        let held: Vec<(ShardId, PeerId)> = stripe
            .pieces
            .iter()
            .zip(&results)
            .filter_map(|(pid, r)| r.as_ref().ok().map(|peer| (*pid, *peer)))
            .collect();
        self.send_records(&one.stripe_record(&stripe), &held);
        let ids = &stripe.pieces;
        let failed: Vec<String> = results
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.err().map(|e| format!("piece {i}: {e}")))
            .collect();
        if !failed.is_empty() {
            return Err(SinkError::Pieces {
                id,
                reason: format!(
                    "{} of its {} pieces were not stored ({})",
                    failed.len(),
                    ids.len(),
                    failed.join("; ")
                ),
            });
        }
        Ok(Some(Put {
            new: true,
            size,
            stripe: Some(stripe),
        }))
    }

    /// Sends one piece to its place, or to the next peers by its id that
    /// hold no other piece; the peer that confirmed it. `taken`: peers
    /// holding a piece of the stripe; a fallback (and with `claim_first`,
    /// the first choice too) must not be one of them.
    async fn send_piece(
        &self,
        id: ShardId,
        bytes: &Bytes,
        place: &PiecePlace<PeerId>,
        (terms, taken, claim_first): (&Terms, &Mutex<HashSet<PeerId>>, bool),
    ) -> Result<PeerId, String> {
        let lease = terms.lease(&id);
        let avoid = (!place.avoid.is_empty()).then(|| terms.avoid(&id, &place.avoid));
        let receipt = Receipt::new(id, bytes);
        let mut last = String::from("no peer to try");
        for (n, peer) in place.order.iter().take(1 + FALLBACKS).enumerate() {
            if (n > 0 || claim_first)
                && !taken
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(*peer)
            {
                continue;
            }
            match self
                .send(
                    *peer,
                    id,
                    lease,
                    Some((bytes, &receipt)),
                    avoid.as_ref(),
                    None,
                )
                .await
            {
                Ok(()) => return Ok(*peer),
                Err(e) => {
                    warn!(piece = %id, %peer, "piece not confirmed: {e}");
                    last = format!("{peer}: {e}");
                }
            }
        }
        Err(last)
    }

    /// Stores pieces of `stripe` rebuilt by the owner (with their indices),
    /// one copy each until `expires_at`: each at its place by its own id in
    /// today's view, never on a peer of `holders` (which hold its siblings),
    /// and with those peers in its avoid list. The peer that confirmed each
    /// one, or why none did.
    pub fn put_rebuilt(
        &self,
        stripe: &StripeRef,
        rebuilt: Vec<(usize, Piece)>,
        holders: &HashSet<PeerId>,
        expires_at: u64,
    ) -> Vec<Result<PeerId, String>> {
        let size = rebuilt.first().map_or(0, |(_, p)| p.bytes().len() as u64);
        let places = placement::place_pieces(
            &stripe.pieces,
            size,
            &self.candidates,
            stripe.parity as usize,
        );
        let held: Vec<[u8; 32]> = self
            .candidates
            .iter()
            .filter(|c| holders.contains(&c.peer))
            .map(|c| c.key)
            .collect();
        let jobs: Vec<(ShardId, Bytes, PiecePlace<PeerId>)> = rebuilt
            .into_iter()
            .map(|(i, p)| {
                let id = p.id();
                // Its place in today's view first, then every other peer
                // by its id: the peers the view gives its siblings may be
                // the only ones left.
                let ideal = places.as_ref().and_then(|pl| pl.get(i));
                let mut place = PiecePlace {
                    order: ideal
                        .and_then(|pl| pl.order.first().copied())
                        .into_iter()
                        .collect(),
                    avoid: ideal.map(|pl| pl.avoid.clone()).unwrap_or_default(),
                };
                for peer in
                    placement::responsible_set(&id, size, &self.candidates, self.candidates.len())
                {
                    if !place.order.contains(&peer) {
                        place.order.push(peer);
                    }
                }
                place.order.retain(|peer| !holders.contains(peer));
                let mut avoid = held.clone();
                avoid.extend(place.avoid.iter().filter(|k| !held.contains(k)));
                place.avoid = avoid;
                (id, Bytes::from(p.into_bytes()), place)
            })
            .collect();
        let one = Terms::new(self.master, expires_at, 1);
        let taken = Mutex::new(holders.clone());
        let sent = self
            .net
            .handle
            .block_on(join_all(jobs.iter().map(|(id, b, pl)| {
                self.send_piece(*id, b, pl, (&one, &taken, true))
            })));
        let held: Vec<(ShardId, PeerId)> = jobs
            .iter()
            .zip(&sent)
            .filter_map(|((id, _, _), r)| r.as_ref().ok().map(|peer| (*id, *peer)))
            .collect();
        self.send_records(&one.stripe_record(stripe), &held);
        sent
    }

    /// Gives each piece's holder its stripe's signed record (`held`: piece
    /// and the peer that confirmed it), with which the holders can prove
    /// and rebuild each other's pieces while the owner is offline. A holder
    /// that does not keep it (a peer of an earlier build) weakens only that
    /// rebuild, so a failure is logged, not the backup's.
    fn send_records(&self, record: &StripeRecord, held: &[(ShardId, PeerId)]) {
        let lease_of = |id: &ShardId| record.index_of(id).and_then(|i| record.lease(i));
        let sent = self
            .net
            .handle
            .block_on(join_all(held.iter().filter_map(|(id, peer)| {
                let lease = lease_of(id)?;
                Some(async move {
                    (
                        *id,
                        *peer,
                        self.send(*peer, *id, lease, None, None, Some(record)).await,
                    )
                })
            })));
        for (id, peer, r) in sent {
            if let Err(e) = r {
                warn!(piece = %id, %peer, "stripe record not kept: {e}");
            }
        }
    }

    /// Adds a lease under `terms` to every piece of `stripe` where it is
    /// held (its place in today's view, or the next peers); false when some
    /// piece was renewed nowhere.
    pub(super) fn renew_pieces(&self, stripe: &StripeRef, terms: &Terms) -> bool {
        let Some(places) =
            placement::place_pieces(&stripe.pieces, 0, &self.candidates, stripe.parity as usize)
        else {
            return false;
        };
        // The stripe's record renews every piece's lease where it is kept.
        let record = Terms::new(self.master, terms.expires_at, 1).stripe_record(stripe);
        let record = &record;
        let renewed =
            self.net
                .handle
                .block_on(join_all(stripe.pieces.iter().zip(&places).enumerate().map(
                    |(i, (id, pl))| async move {
                        let Some(lease) = record.lease(i) else {
                            return false;
                        };
                        for peer in pl.order.iter().take(1 + FALLBACKS) {
                            if self
                                .send(*peer, *id, lease, None, None, Some(record))
                                .await
                                .is_ok()
                            {
                                return true;
                            }
                        }
                        false
                    },
                )));
        renewed.into_iter().all(|r| r)
    }
}
