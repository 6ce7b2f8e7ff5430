//! [`SwarmSource`]: a restore's shards from the local store if held, else
//! from their likely holders, then every other peer not down; bytes that do
//! not hash to the id are evidence against the peer that sent them. Holders
//! that answered `Busy` are asked again after a pause: a restore that ran
//! while the swarm repaired lost a shard to a holder's full queue once
//! (live 200 nodes), with every other peer answering that it had none.

use super::Net;
use crate::shards::{ShardSource, SourceError};
use libp2p::PeerId;
use shardnet_protocol::manifest::StripeRef;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Reject, Request, Response};
use shardnet_protocol::ShardId;
use shardnet_store::{ShardState, Store};
use tracing::warn;

/// Peers asked first for a shard of unknown tier: the largest replica count.
const FIRST_ASK: usize = 7;
/// Rounds of asking again the peers that answered `Busy`, and the pause
/// before the first (doubled each round: 0.5 + 1 + 2 s at most).
const BUSY_ROUNDS: u32 = 3;
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

pub struct SwarmSource<'a> {
    net: &'a Net,
    store: &'a Store,
}

impl<'a> SwarmSource<'a> {
    pub fn new(net: &'a Net, store: &'a Store) -> Self {
        SwarmSource { net, store }
    }
}

/// Remote peers to ask for `id`, in order: its likely holders, then the
/// rest. Suspect peers are asked too (repair keeps their places): a holder
/// this node judged silent under load may well still answer.
fn ask_order(net: &Net, id: &ShardId) -> Vec<PeerId> {
    let cands = net.view.repair_candidates();
    let mut order = placement::responsible_set(id, 0, &cands, FIRST_ASK);
    let mut rest: Vec<&Candidate<PeerId>> =
        cands.iter().filter(|c| !order.contains(&c.peer)).collect();
    rest.sort_by_key(|c| c.reach(id));
    order.extend(rest.into_iter().map(|c| c.peer));
    let local = net.client.local_peer_id();
    order.retain(|p| *p != local);
    order
}

impl ShardSource for SwarmSource<'_> {
    /// A fetch waits on a peer most of the time: on 5 local processes a
    /// 1 GiB restore ran at 516-639 MB/s with two per core and 629-697
    /// with four, interleaved (`bench --swarm 5`).
    fn reads_per_core(&self) -> usize {
        4
    }

    /// A stripe's pieces are on different peers: asked side by side, so a
    /// chunk kept as pieces costs one round trip, as a copy does; each at
    /// its place in this node's view first (by reach alone, the closest
    /// peers to a piece are often its siblings' holders).
    fn get_pieces(
        &self,
        stripe: &StripeRef,
        indices: &[usize],
    ) -> Vec<Result<Vec<u8>, SourceError>> {
        let cands = self.net.view.repair_candidates();
        let places = placement::place_pieces(&stripe.pieces, 0, &cands, stripe.parity as usize);
        let first = |i: usize| {
            places
                .as_ref()
                .and_then(|p| p.get(i))
                .and_then(|p| p.order.first().copied())
        };
        std::thread::scope(|scope| {
            let running: Vec<_> = indices
                .iter()
                .map(|&i| {
                    let id = stripe.pieces[i];
                    let hint = first(i);
                    scope.spawn(move || self.get_hinted(&id, hint))
                })
                .collect();
            running
                .into_iter()
                .zip(indices)
                .map(|(h, &i)| {
                    h.join().unwrap_or_else(|_| {
                        Err(SourceError::Failed {
                            id: stripe.pieces[i],
                            reason: "the fetch panicked".into(),
                        })
                    })
                })
                .collect()
        })
    }

    fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError> {
        self.get_hinted(id, None)
    }
}

impl SwarmSource<'_> {
    /// [`ShardSource::get`], asking `hint` first when it names a peer.
    fn get_hinted(&self, id: &ShardId, hint: Option<PeerId>) -> Result<Vec<u8>, SourceError> {
        if matches!(self.store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy) {
            if let Ok(b) = self.store.get_shard(id) {
                return Ok(b);
            }
        }
        let mut ask = ask_order(self.net, id);
        if let Some(h) = hint.filter(|h| *h != self.net.client.local_peer_id()) {
            ask.retain(|p| *p != h);
            ask.insert(0, h);
        }
        let mut pause = BUSY_PAUSE;
        for round in 0..=BUSY_ROUNDS {
            let mut busy = Vec::new();
            for peer in ask {
                if let Some(bytes) = self.ask(peer, id, &mut busy) {
                    return Ok(bytes);
                }
            }
            if busy.is_empty() || round == BUSY_ROUNDS {
                if !busy.is_empty() {
                    warn!(shard = %id, busy = busy.len(), "no copy: its last holders stayed busy");
                }
                break;
            }
            std::thread::sleep(pause);
            pause *= 2;
            ask = busy;
        }
        Err(SourceError::NotFound(*id))
    }

    /// Asks `peer` for `id`; notes it in `busy` if it answered `Busy`.
    fn ask(&self, peer: PeerId, id: &ShardId, busy: &mut Vec<PeerId>) -> Option<Vec<u8>> {
        match self
            .net
            .handle
            .block_on(self.net.client.request(peer, Request::Fetch { id: *id }))
        {
            Ok(Response::Shard(bytes)) if id.matches(&bytes) => return Some(bytes),
            Ok(Response::Shard(bytes)) => {
                warn!(%peer, shard = %id, "peer sent bytes that do not match the shard id");
                self.net.audits.record(
                    peer,
                    Evidence::WrongBytes,
                    Some(*id),
                    format!(
                        "served {} bytes that do not hash to the shard id",
                        bytes.len()
                    ),
                );
            }
            Ok(Response::Rejected(Reject::Busy)) => busy.push(peer),
            Ok(_) => {}
            Err(e) => warn!(%peer, shard = %id, "fetch failed: {e}"),
        }
        None
    }
}
