//! [`Net`]: the swarm as the node's operations see it: the client that
//! sends requests, the membership view, the runtime to wait on, usage,
//! proofs and reputations, and the live limits. A plain bundle, so that the
//! operations built on it (distribute, catalogue, repair, prune) depend on it
//! and not on each other.

use crate::membership::View;
use crate::storage::Usage;
use crate::swarm::Client;
use libp2p::PeerId;
use shardnet_protocol::wire::{Reject, Request, Response};
use std::sync::Arc;
use std::time::Duration;

/// The swarm as operations see it.
pub struct Net {
    pub client: Client,
    pub view: Arc<View>,
    pub handle: tokio::runtime::Handle,
    pub usage: Arc<Usage>,
    /// Proof cache and peer reputations (possession proofs, isolation).
    pub audits: Arc<crate::audit::Audits>,
    /// Bandwidth limits and maintenance windows, as set while running.
    pub live: Arc<crate::live::Live>,
}

const BUSY_RETRIES: u32 = 6;

/// Sends `req` to `peer`, again after a while when it is busy (rate limits).
pub(crate) async fn ask(
    client: &crate::swarm::Client,
    peer: PeerId,
    req: Request,
) -> Result<Response, String> {
    for attempt in 0..=BUSY_RETRIES {
        match client.request(peer, req.clone()).await {
            Ok(Response::Rejected(Reject::Busy)) if attempt < BUSY_RETRIES => {
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            Ok(r) => return Ok(r),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("busy".into())
}
