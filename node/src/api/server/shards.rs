//! Shards and peers over the API: the shards held, their verification, peer
//! reputation and isolation.

use crate::api::state::{err, with_ctx, ApiError, AppState};
use crate::ops::{self, StatusFilter};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ShardsReq {
    pub status: Option<StatusFilter>,
}

pub(super) async fn shards(
    State(s): State<AppState>,
    Json(r): Json<ShardsReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::shards_list(c.store, r.status)).await
}

#[derive(Deserialize)]
pub(super) struct VerifyShardsReq {
    pub ids: Vec<shardnet_protocol::ShardId>,
}

pub(super) async fn shards_verify(
    State(s): State<AppState>,
    Json(r): Json<VerifyShardsReq>,
) -> Result<impl IntoResponse, ApiError> {
    let out = with_ctx(s.clone(), move |c| ops::shards_verify(c.store, &r.ids)).await?;
    if out.0.iter().any(|r| !r.ok) {
        s.repair.kick();
    }
    Ok(out)
}

#[derive(Deserialize)]
pub(super) struct ReputationQuery {
    pub peer: Option<String>,
    #[serde(default)]
    pub why: bool,
}

pub(super) fn parse_peer(p: &str) -> Result<libp2p::PeerId, ApiError> {
    p.parse()
        .map_err(|e| err(format!("{p:?} is not a peer id: {e}")))
}

pub(super) async fn reputation(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ReputationQuery>,
) -> Result<Json<Vec<crate::audit::PeerReputation>>, ApiError> {
    let peer = q.peer.as_deref().map(parse_peer).transpose()?;
    let why = if q.why { 20 } else { 0 };
    let s2 = s.clone();
    let out = tokio::task::spawn_blocking(move || s2.net.audits.report(peer.as_ref(), why))
        .await
        .map_err(err)?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub(super) struct IsolateReq {
    pub peer: String,
    pub isolated: bool,
    pub reason: String,
}

pub(super) async fn isolate(
    State(s): State<AppState>,
    Json(r): Json<IsolateReq>,
) -> Result<Json<Vec<crate::audit::PeerReputation>>, ApiError> {
    let peer = parse_peer(&r.peer)?;
    if peer == s.net.client.local_peer_id() {
        return Err(err("this is the local node's own id"));
    }
    let s2 = s.clone();
    let out = tokio::task::spawn_blocking(move || {
        s2.net.audits.set_manual(peer, r.isolated, &r.reason)?;
        Ok::<_, String>(s2.net.audits.report(Some(&peer), 0))
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    s.repair.kick();
    Ok(Json(out))
}
