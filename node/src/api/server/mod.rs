//! The daemon side of the control API (axum). Handlers run the same
//! [`crate::ops`] functions as the offline CLI, on blocking threads, with the
//! swarm attached.

mod backups;
mod shards;
mod upkeep;

use super::NodeStatus;
use crate::datadir::DataDir;
use crate::distribute::Net;
use crate::ops::{self, Ctx};
use crate::repair::Repair;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use backups::{
    create, delete, distribution_status, keys_rotate, list, report, restore, retention_audit,
    retention_extend, retention_tier, show, verify,
};
use shardnet_store::{AuditAction, Store};
use shards::{isolate, reputation, shards, shards_verify};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use upkeep::{
    audit_log, audit_verify, prune_jobs, prune_plan, prune_purge, prune_rollback, prune_run,
    prune_status, rebalance_pause, rebalance_plan, rebalance_resume, rebalance_run, scrub_pause,
    scrub_start, scrub_status,
};
pub(crate) use upkeep::{rebalance_status, set_paused};

pub struct Shared {
    pub store: Arc<Store>,
    pub dd: DataDir,
    pub net: Arc<Net>,
    pub repair: Arc<Repair>,
    pub scrub: Arc<crate::scrub::Scrub>,
    pub token: String,
    pub zone: String,
    pub capacity: u64,
    pub quota_per_owner: u64,
    /// Progress of the latest long operation (backup or restore), for the CLI
    /// to draw; never drawn here.
    pub progress: indicatif::ProgressBar,
    pub reclaim: Arc<crate::reclaim::Reclaim>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<String>,
    /// Unix time the node started.
    pub started_at: u64,
    /// Reads only (`api.readonly.token`).
    pub readonly_token: String,
    /// The status page's sessions.
    pub sessions: super::page::Sessions,
    /// Runtime settings (`config get|set`).
    pub settings: Arc<crate::settings::Settings>,
}

/// What the read-only token may GET.
pub const READ_ONLY: &[&str] = &[
    "/v1/status",
    "/v1/peers",
    "/v1/health",
    "/v1/backup/list",
    "/v1/rebalance/status",
    "/v1/scrub/status",
    "/v1/peers/reputation",
];

pub(super) type AppState = Arc<Shared>;

pub struct ApiError(pub(super) StatusCode, pub(super) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

pub(super) fn err(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

async fn auth(State(s): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
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

/// Runs `f` with an operations context on a blocking thread.
async fn with_ctx<T: serde::Serialize + Send + 'static>(
    s: AppState,
    f: impl FnOnce(&Ctx<'_>) -> Result<T, ops::OpError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    let out = tokio::task::spawn_blocking(move || -> Result<T, ApiError> {
        let master = s.dd.owner_key().map_err(err)?;
        let ctx = Ctx {
            store: &s.store,
            master,
            net: Some(s.net.as_ref()),
            data_dir: s.dd.root().to_path_buf(),
        };
        f(&ctx).map_err(err)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(out))
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

/// Records an operator action in the audit log, on a blocking thread (the
/// record is flushed). A failure is logged: the action itself has happened.
pub(super) async fn operator(s: &AppState, action: AuditAction) {
    let store = s.store.clone();
    let done = tokio::task::spawn_blocking(move || {
        store.record(action, "by the operator (control API)".into())
    })
    .await;
    if let Err(e) = done
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::warn!("could not record {} in the audit log: {e}", action.name());
    }
}

async fn progress(State(s): State<AppState>) -> Json<super::Progress> {
    Json(super::Progress {
        label: s.progress.message().to_string(),
        done: s.progress.position(),
        total: s.progress.length().unwrap_or(0),
    })
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers))
        .route("/v1/progress", get(progress))
        .route("/v1/backup/create", post(create))
        .route("/v1/backup/list", get(list))
        .route("/v1/backup/show", post(show))
        .route("/v1/backup/restore", post(restore))
        .route("/v1/backup/verify", post(verify))
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
        .merge(super::settings::routes())
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state.clone())
        // For load balancers and watchdogs: no token, nothing secret.
        .merge(
            Router::new()
                .route("/health", get(super::observe::health))
                .with_state(state.clone()),
        )
        .merge(super::page::router(state))
}

/// `GET /v1/health`: the verdict, always 200 (the CLI reads the level).
async fn health(State(s): State<AppState>) -> Json<shardnet_protocol::health::Health> {
    Json(super::observe::observe(&s).await.1)
}
