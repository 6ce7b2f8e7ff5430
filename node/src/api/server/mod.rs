//! The daemon side of the control API (axum). Handlers run the same
//! [`crate::ops`] functions as the offline CLI, on blocking threads, with the
//! swarm attached.

mod backups;
mod shards;
mod upkeep;

use super::state::{err, ApiError, AppState, READ_ONLY};
use super::NodeStatus;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use backups::{
    create, delete, distribution_status, keys_rotate, list, repair, report, restore,
    retention_audit, retention_extend, retention_tier, show, verify,
};
use shards::{isolate, reputation, shards, shards_verify};
use std::sync::atomic::Ordering;
use upkeep::{
    audit_log, audit_verify, prune_jobs, prune_plan, prune_purge, prune_rollback, prune_run,
    prune_status, rebalance_pause, rebalance_plan, rebalance_resume, rebalance_run, scrub_pause,
    scrub_start, scrub_status,
};
pub(crate) use upkeep::{rebalance_status, set_paused};

pub(super) async fn auth(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| blake3::hash(t.as_bytes()));
    // blake3::Hash compares in constant time: the answer's timing says
    // nothing about how much of a guess was right.
    let full = given.is_some_and(|h| h == blake3::hash(s.token.as_bytes()));
    let reader = given.is_some_and(|h| h == blake3::hash(s.readonly_token.as_bytes()))
        && req.method() == axum::http::Method::GET
        && READ_ONLY.contains(&req.uri().path());
    let ok = full || reader;
    if !ok {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong API token".into(),
        ));
    }
    Ok(next.run(req).await)
}

async fn status(State(s): State<AppState>) -> Result<Json<NodeStatus>, ApiError> {
    let net = s
        .net
        .client
        .status()
        .await
        .ok_or_else(|| err("swarm stopped"))?;
    let store = s.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.stats())
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(Json(NodeStatus {
        peer_id: net.peer_id,
        version: env!("CARGO_PKG_VERSION").into(),
        zone: s.zone.clone(),
        listen: net.listen,
        connected_peers: net.connected.len(),
        live_peers: s.net.view.live_peers().len(),
        capacity: s.capacity,
        used: s.net.usage.used.load(Ordering::Relaxed),
        quota_per_owner: s.quota_per_owner,
        draining: s.net.usage.draining.load(Ordering::Relaxed),
        store: stats,
        pressure: net.pressure,
        id_difficulty: s.net.view.difficulty(),
        unadmitted_heartbeats: s.net.view.unadmitted(),
        alerts: s.reclaim.alert().into_iter().collect(),
        metrics_listen: s.metrics_listen.clone(),
    }))
}

async fn peers(State(s): State<AppState>) -> Json<Vec<crate::membership::PeerInfo>> {
    Json(s.net.view.list())
}

async fn progress(State(s): State<AppState>) -> Json<super::Progress> {
    Json(super::Progress {
        label: s.progress.message().to_string(),
        done: s.progress.position(),
        total: s.progress.length().unwrap_or(0),
    })
}

/// The bearer-token routes (`/v1/...`) served here; `api::router` adds the
/// settings, the token check and the unauthenticated pages.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers))
        .route("/v1/progress", get(progress))
        .route("/v1/backup/create", post(create))
        .route("/v1/backup/list", get(list))
        .route("/v1/backup/show", post(show))
        .route("/v1/backup/restore", post(restore))
        .route("/v1/backup/verify", post(verify))
        .route("/v1/backup/repair", post(repair))
        .route("/v1/backup/delete", post(delete))
        .route("/v1/keys/rotate", post(keys_rotate))
        .route("/v1/retention/extend", post(retention_extend))
        .route("/v1/retention/tier", post(retention_tier))
        .route("/v1/retention/audit", post(retention_audit))
        .route("/v1/distribution/status", post(distribution_status))
        .route("/v1/report", post(report))
        .route("/v1/shards", post(shards))
        .route("/v1/shards/verify", post(shards_verify))
        .route("/v1/peers/reputation", get(reputation))
        .route("/v1/peers/isolate", post(isolate))
        .route("/v1/rebalance/plan", post(rebalance_plan))
        .route("/v1/rebalance/run", post(rebalance_run))
        .route("/v1/rebalance/status", get(rebalance_status))
        .route("/v1/rebalance/pause", post(rebalance_pause))
        .route("/v1/rebalance/resume", post(rebalance_resume))
        .route("/v1/scrub/status", get(scrub_status))
        .route("/v1/scrub/start", post(scrub_start))
        .route("/v1/scrub/pause", post(scrub_pause))
        .route("/v1/audit/log", post(audit_log))
        .route("/v1/prune/plan", post(prune_plan))
        .route("/v1/prune/run", post(prune_run))
        .route("/v1/prune/jobs", post(prune_jobs))
        .route("/v1/prune/status", post(prune_status))
        .route("/v1/prune/rollback", post(prune_rollback))
        .route("/v1/prune/purge", post(prune_purge))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/health", get(health))
}

/// `GET /v1/health`: the verdict, always 200 (the CLI reads the level).
async fn health(State(s): State<AppState>) -> Json<shardnet_protocol::health::Health> {
    Json(super::observe::observe(&s).await.1)
}
