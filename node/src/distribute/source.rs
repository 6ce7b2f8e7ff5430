//! [`SwarmSource`]: a restore's shards from the local store if held, else
//! from their likely holders, then every other live peer; bytes that do not
//! hash to the id are evidence against the peer that sent them.

use super::Net;
use crate::shards::{ShardSource, SourceError};
use libp2p::PeerId;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::reputation::Evidence;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::ShardId;
use shardnet_store::{ShardState, Store};
use tracing::warn;

/// Peers asked first for a shard of unknown tier: the largest replica count.
const FIRST_ASK: usize = 7;

pub struct SwarmSource<'a> {
    net: &'a Net,
    store: &'a Store,
}

impl<'a> SwarmSource<'a> {
    pub fn new(net: &'a Net, store: &'a Store) -> Self {
        SwarmSource { net, store }
    }
}

/// Remote peers to ask for `id`, in order: its likely holders, then the rest.
fn ask_order(net: &Net, id: &ShardId) -> Vec<PeerId> {
    let cands = net.view.candidates();
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
    fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError> {
        if matches!(self.store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy) {
            if let Ok(b) = self.store.get_shard(id) {
                return Ok(b);
            }
        }
        for peer in ask_order(self.net, id) {
            match self
                .net
                .handle
                .block_on(self.net.client.request(peer, Request::Fetch { id: *id }))
            {
                Ok(Response::Shard(bytes)) if id.matches(&bytes) => return Ok(bytes),
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
                Ok(_) => {}
                Err(e) => warn!(%peer, shard = %id, "fetch failed: {e}"),
            }
        }
        Err(SourceError::NotFound(*id))
    }
}
