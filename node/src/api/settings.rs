//! The control API's runtime settings (`config get|set|unset|reload`) and the
//! end of a drain; the logic is in `crate::settings`.

use super::server::{rebalance_status, set_paused};
use super::state::{err, operator, ApiError, AppState};
use crate::repair::RepairStatus;
use crate::settings::{Reload, Setting};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shardnet_store::AuditAction;
use std::sync::atomic::Ordering;

/// The store's record of a drain ("1"), so that a restart goes on with it.
pub const DRAINING_STATE: &str = "node/draining";

#[derive(Deserialize)]
struct SetBody {
    key: String,
    /// None: back to the default.
    value: Option<String>,
}

async fn config_get(State(s): State<AppState>) -> Result<Json<Vec<Setting>>, ApiError> {
    let st = s.settings.clone();
    let all = tokio::task::spawn_blocking(move || st.get())
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(Json(all))
}

async fn config_set(
    State(s): State<AppState>,
    Json(b): Json<SetBody>,
) -> Result<Json<Reload>, ApiError> {
    let st = s.settings.clone();
    let r = tokio::task::spawn_blocking(move || st.set(&b.key, b.value.as_deref()))
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(Json(r))
}

async fn config_reload(State(s): State<AppState>) -> Result<Json<Reload>, ApiError> {
    let st = s.settings.clone();
    let r = tokio::task::spawn_blocking(move || st.reload())
        .await
        .map_err(err)?
        .map_err(err)?;
    Ok(Json(r))
}

/// Starts (`on`) or ends a drain; either way it holds across restarts.
pub(super) async fn set_draining(s: &AppState, on: bool) -> Result<(), ApiError> {
    let store = s.store.clone();
    let value: &'static [u8] = if on { b"1" } else { b"0" };
    tokio::task::spawn_blocking(move || {
        store.put_state(DRAINING_STATE, value)?;
        store.flush()
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    s.net.usage.draining.store(on, Ordering::Relaxed);
    s.repair.kick();
    Ok(())
}

pub(super) async fn drain(State(s): State<AppState>) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::DrainStarted).await;
    set_draining(&s, true).await?;
    set_paused(&s, false).await?;
    rebalance_status(State(s)).await
}

async fn drain_cancel(State(s): State<AppState>) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::DrainCancelled).await;
    set_draining(&s, false).await?;
    rebalance_status(State(s)).await
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/config", get(config_get).post(config_set))
        .route("/v1/config/reload", post(config_reload))
        .route("/v1/node/drain", post(drain))
        .route("/v1/node/drain/cancel", post(drain_cancel))
}
