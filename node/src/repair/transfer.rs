//! One queued transfer: a copy (or a piece, with its stripe record) read
//! from the store and sent to its target with the owners' signed leases,
//! and why it did not happen when it did not (a target holding a sibling
//! piece is kept apart, not retried).

use super::now_unix;
use crate::distribute::Net;
use libp2p::PeerId;
use shardnet_protocol::wire::{Reject, Request, Response};
use shardnet_protocol::ShardId;
use shardnet_store::{Store, TransferJob};
use std::sync::Arc;

/// Why a transfer did not happen.
pub(super) enum Failed {
    /// The target says it holds another piece of the piece's stripe: it is
    /// not offered the piece again for [`super::APART_FOR`].
    Sibling(PeerId),
    Other(String),
}

impl From<String> for Failed {
    fn from(s: String) -> Self {
        Failed::Other(s)
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Sibling(p) => write!(f, "{p} holds another piece of its stripe"),
            Failed::Other(s) => f.write_str(s),
        }
    }
}

/// Copies one queued shard to its target. Errors are reasons for the log.
pub(super) async fn transfer(
    net: &Net,
    store: &Arc<Store>,
    job: &TransferJob,
) -> Result<u64, Failed> {
    let peer = PeerId::from_bytes(&job.peer).map_err(|e| e.to_string())?;
    if !net.view.is_reachable(&peer) {
        return Err(format!("peer {peer} is not live").into());
    }
    let (st, id) = (store.clone(), job.shard);
    let (bytes, meta) = tokio::task::spawn_blocking(move || (st.get_shard(&id), st.meta(&id)))
        .await
        .map_err(|e| e.to_string())?;
    let bytes = bytes.map_err(|e| e.to_string())?;
    let (leases, avoid, stripe) = meta
        .map_err(|e| e.to_string())?
        .map(|m| (m.leases, m.avoid, m.stripe))
        .unwrap_or_default();
    if leases.is_empty() {
        return Err("shard has no lease".to_string().into());
    }
    if shardnet_protocol::lease::latest_expiry(&leases).is_some_and(|e| e <= now_unix()) {
        // No holder takes an expired lease: the copy is left to pruning.
        return Err("every lease on the shard has expired".to_string().into());
    }
    let size = bytes.len() as u64;
    // A piece does not go to a peer that says it holds a sibling: two
    // pieces of a stripe on one peer are lost together. (A claim is enough
    // to stay away: a peer that lies about it only gets less to hold. The
    // piece stays here meanwhile.)
    if let Some(record) = &stripe {
        let siblings: Vec<ShardId> = record
            .stripe
            .pieces
            .iter()
            .filter(|p| **p != id)
            .copied()
            .collect();
        if let Ok(Response::Has(v)) = net
            .client
            .request(peer, Request::Has { ids: siblings })
            .await
        {
            if v.iter().any(|h| *h) {
                return Err(Failed::Sibling(peer));
            }
        }
    }
    // The owners' signed leases and avoid list travel with the bytes: the
    // target checks them itself.
    match net
        .client
        .request(
            peer,
            Request::Store {
                id,
                leases,
                bytes,
                avoid,
            },
        )
        .await
    {
        Ok(Response::Stored) => {}
        Ok(Response::Rejected(r)) => return Err(format!("{peer} refused: {r}").into()),
        Ok(other) => return Err(format!("{peer} answered {other:?}").into()),
        Err(e) => return Err(e.to_string().into()),
    }
    // A piece's stripe record follows it, so that its new holder can take
    // part in rebuilding the stripe; the copy counts without it.
    if let Some(record) = stripe {
        match net
            .client
            .request(peer, Request::Stripe { id, record })
            .await
        {
            Ok(Response::Renewed) => {}
            // Another holder handed it a sibling meanwhile: it quarantined
            // this piece, and this copy stays.
            Ok(Response::Rejected(Reject::BadLease(why)))
                if why.starts_with(crate::storage::SIBLING_HELD) =>
            {
                return Err(Failed::Sibling(peer));
            }
            other => tracing::debug!(shard = %id, %peer, "stripe record not kept: {other:?}"),
        }
    }
    Ok(size)
}
