//! Possession proofs answered from the healthy copy only (a rotten copy
//! is marked corrupted on the way).

use shardnet_protocol::wire::{Reject, Response};
use shardnet_protocol::ShardId;
use shardnet_store::{ShardState, Store};

/// Answers a possession challenge from the healthy copies held.
pub(super) fn prove(store: &Store, nonce: &[u8; 32], ids: &[ShardId]) -> Response {
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
pub(super) fn sample(store: &Store, id: &ShardId, offsets: &[u64]) -> Response {
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

pub(super) fn healthy(store: &Store, id: &ShardId) -> bool {
    matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy)
}
