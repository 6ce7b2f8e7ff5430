//! What every handler of the control API shares: the node's parts behind one
//! `Arc` ([`Shared`]), the error type handlers answer with, and the helpers
//! that run an operation on a blocking thread or record an operator action.
//! Handlers depend on this module; it depends on none of them.

use crate::datadir::DataDir;
use crate::distribute::Net;
use crate::ops::{self, Ctx};
use crate::repair::Repair;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shardnet_store::{AuditAction, Store};
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
    pub sessions: super::sessions::Sessions,
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

pub type AppState = Arc<Shared>;

pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

pub(crate) fn err(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// Runs `f` with an operations context on a blocking thread.
pub(crate) async fn with_ctx<T: serde::Serialize + Send + 'static>(
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

/// Records an operator action in the audit log, on a blocking thread (the
/// record is flushed). A failure is logged: the action itself has happened.
pub(crate) async fn operator(s: &AppState, action: AuditAction) {
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
