//! The daemon side of the control API (axum). Handlers run the same
//! [`crate::ops`] functions as the offline CLI, on blocking threads, with the
//! swarm attached.

use super::NodeStatus;
use crate::datadir::DataDir;
use crate::distribute::Net;
use crate::ops::{self, CreateRequest, Ctx, RestoreRequest, StatusFilter};
use crate::repair::{self, Plan, Repair, RepairStatus};
use crate::scrub::ScrubStatus;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shardnet_protocol::BackupId;
use shardnet_store::{AuditAction, AuditFilter, Store};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

async fn create(
    State(s): State<AppState>,
    Json(req): Json<CreateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let bar = s.progress.clone();
    bar.set_message("backup");
    with_ctx(s, move |c| ops::backup_create(c, &req, Some(bar))).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub all: bool,
}

async fn list(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_list(c, q.all)).await
}

#[derive(Deserialize)]
pub struct ShowReq {
    pub id: BackupId,
    pub files: bool,
}

async fn show(
    State(s): State<AppState>,
    Json(r): Json<ShowReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_show(c, &r.id, r.files)).await
}

async fn restore(
    State(s): State<AppState>,
    Json(r): Json<RestoreRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let bar = s.progress.clone();
    bar.set_message("restore");
    with_ctx(s, move |c| ops::backup_restore(c, &r, Some(bar))).await
}

#[derive(Deserialize)]
pub struct VerifyReq {
    pub id: BackupId,
    pub full: bool,
}

#[derive(Deserialize)]
pub struct DeleteReq {
    pub id: BackupId,
}

async fn delete(
    State(s): State<AppState>,
    Json(r): Json<DeleteReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_delete(c, &r.id)).await
}

#[derive(Deserialize)]
pub struct RotateReq {
    #[serde(default)]
    pub reencrypt: bool,
}

async fn keys_rotate(
    State(s): State<AppState>,
    Json(r): Json<RotateReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::rotate::rotate(c, r.reencrypt)).await
}

#[derive(Deserialize)]
pub struct ExtendReq {
    pub id: BackupId,
    pub by: u64,
}

async fn retention_extend(
    State(s): State<AppState>,
    Json(r): Json<ExtendReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::ops::lifecycle::extend(c, &r.id, r.by)).await
}

#[derive(Deserialize)]
pub struct TierReq {
    pub id: BackupId,
    pub tier: shardnet_protocol::Tier,
}

async fn retention_tier(
    State(s): State<AppState>,
    Json(r): Json<TierReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| {
        crate::ops::lifecycle::set_tier(c, &r.id, r.tier)
    })
    .await
}

#[derive(Deserialize)]
pub struct AuditReq {
    pub warn_days: u64,
}

async fn retention_audit(
    State(s): State<AppState>,
    Json(r): Json<AuditReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::ops::lifecycle::audit(c, r.warn_days)).await
}

#[derive(Deserialize)]
pub struct ReportReq {
    pub period: String,
    pub days: u64,
}

async fn report(
    State(s): State<AppState>,
    Json(r): Json<ReportReq>,
) -> Result<Json<shardnet_protocol::report::Report>, ApiError> {
    let store = s.store.clone();
    let days = r.days.clamp(1, 31);
    let out =
        tokio::task::spawn_blocking(move || crate::api::report::report(&store, &r.period, days))
            .await
            .map_err(err)?
            .map_err(err)?;
    Ok(Json(out))
}

async fn distribution_status(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, crate::distribution::status).await
}

async fn verify(
    State(s): State<AppState>,
    Json(r): Json<VerifyReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_verify(c, &r.id, r.full)).await
}

#[derive(Deserialize)]
pub struct ShardsReq {
    pub status: Option<StatusFilter>,
}

async fn shards(
    State(s): State<AppState>,
    Json(r): Json<ShardsReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::shards_list(c.store, r.status)).await
}

#[derive(Deserialize)]
pub struct VerifyShardsReq {
    pub ids: Vec<shardnet_protocol::ShardId>,
}

async fn shards_verify(
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
pub struct ReputationQuery {
    pub peer: Option<String>,
    #[serde(default)]
    pub why: bool,
}

fn parse_peer(p: &str) -> Result<libp2p::PeerId, ApiError> {
    p.parse()
        .map_err(|e| err(format!("{p:?} is not a peer id: {e}")))
}

async fn reputation(
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
pub struct IsolateReq {
    pub peer: String,
    pub isolated: bool,
    pub reason: String,
}

async fn isolate(
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

#[derive(Deserialize)]
pub struct PlanReq {
    pub churn_threshold: Option<f64>,
}

async fn rebalance_plan(State(s): State<AppState>, Json(r): Json<PlanReq>) -> Json<Plan> {
    Json(
        repair::scan(
            &s.net,
            &s.store,
            &s.repair,
            false,
            r.churn_threshold.unwrap_or(0.2),
        )
        .await,
    )
}

#[derive(Deserialize)]
pub struct RunReq {
    pub parallel: Option<usize>,
    pub dry_run: bool,
}

async fn rebalance_run(State(s): State<AppState>, Json(r): Json<RunReq>) -> Json<Plan> {
    if !r.dry_run {
        if let Some(p) = r.parallel {
            s.repair
                .cfg
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .parallel = p.max(1);
        }
        s.repair.paused.store(false, Ordering::Relaxed);
    }
    Json(repair::scan(&s.net, &s.store, &s.repair, !r.dry_run, 0.2).await)
}

pub(super) async fn rebalance_status(
    State(s): State<AppState>,
) -> Result<Json<RepairStatus>, ApiError> {
    let st = s.clone();
    let mut out = tokio::task::spawn_blocking(move || {
        st.repair.status(
            &st.store,
            st.net.usage.draining.load(Ordering::Relaxed),
            st.net.audits.counters_snapshot(),
        )
    })
    .await
    .map_err(err)?;
    let live = &s.net.live;
    out.handoff_waits_until = (!live.window_open()).then(|| live.next_window());
    Ok(Json(out))
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

async fn audit_log(
    State(s): State<AppState>,
    Json(f): Json<AuditFilter>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::audit_log(c.store, &f)).await
}

async fn audit_verify(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, |c| ops::audit_verify(c.store)).await
}

async fn prune_plan(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneRunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_plan(c.store, c.net, &r)).await
}

async fn prune_run(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneRunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_run(c.store, c.net, &r)).await
}

async fn prune_jobs(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, |c| ops::prune_jobs(c.store)).await
}

async fn prune_status(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_status(c.store, &r)).await
}

async fn prune_rollback(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_rollback(c.store, &r)).await
}

async fn prune_purge(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_purge(c.store, c.net, &r)).await
}

/// Pauses or resumes repair, and records it so that a restart keeps it.
pub(super) async fn set_paused(s: &AppState, paused: bool) -> Result<(), ApiError> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || {
        store.put_state(
            crate::repair::PAUSED_STATE,
            if paused { b"1" } else { b"0" },
        )?;
        store.flush()
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    s.repair.paused.store(paused, Ordering::Relaxed);
    if !paused {
        s.repair.kick();
    }
    Ok(())
}

async fn rebalance_pause(State(s): State<AppState>) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::RebalancePaused).await;
    set_paused(&s, true).await?;
    rebalance_status(State(s)).await
}

async fn rebalance_resume(State(s): State<AppState>) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::RebalanceResumed).await;
    set_paused(&s, false).await?;
    rebalance_status(State(s)).await
}

async fn scrub_status(State(s): State<AppState>) -> Json<ScrubStatus> {
    Json(s.scrub.status())
}

async fn scrub_start(State(s): State<AppState>) -> Result<Json<ScrubStatus>, ApiError> {
    operator(&s, AuditAction::ScrubStarted).await;
    let st = s.clone();
    tokio::task::spawn_blocking(move || st.scrub.start())
        .await
        .map_err(err)?;
    Ok(scrub_status(State(s)).await)
}

async fn scrub_pause(State(s): State<AppState>) -> Result<Json<ScrubStatus>, ApiError> {
    operator(&s, AuditAction::ScrubPaused).await;
    let st = s.clone();
    tokio::task::spawn_blocking(move || st.scrub.pause())
        .await
        .map_err(err)?;
    Ok(scrub_status(State(s)).await)
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
