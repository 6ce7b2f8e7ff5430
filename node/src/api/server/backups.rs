//! Backups over the API: create, list, show, restore, verify, delete, key
//! rotation, retention and reports.

use crate::api::state::{err, with_ctx, ApiError, AppState};
use crate::ops::{self, CreateRequest, RestoreRequest};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use shardnet_protocol::BackupId;

pub(super) async fn create(
    State(s): State<AppState>,
    Json(req): Json<CreateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let bar = s.progress.clone();
    bar.set_message("backup");
    with_ctx(s, move |c| ops::backup_create(c, &req, Some(bar))).await
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    pub all: bool,
}

pub(super) async fn list(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_list(c, q.all)).await
}

#[derive(Deserialize)]
pub(super) struct ShowReq {
    pub id: BackupId,
    pub files: bool,
}

pub(super) async fn show(
    State(s): State<AppState>,
    Json(r): Json<ShowReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_show(c, &r.id, r.files)).await
}

pub(super) async fn restore(
    State(s): State<AppState>,
    Json(r): Json<RestoreRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let bar = s.progress.clone();
    bar.set_message("restore");
    with_ctx(s, move |c| ops::backup_restore(c, &r, Some(bar))).await
}

#[derive(Deserialize)]
pub(super) struct VerifyReq {
    pub id: BackupId,
    pub full: bool,
}

#[derive(Deserialize)]
pub(super) struct DeleteReq {
    pub id: BackupId,
}

pub(super) async fn delete(
    State(s): State<AppState>,
    Json(r): Json<DeleteReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_delete(c, &r.id)).await
}

#[derive(Deserialize)]
pub(super) struct RotateReq {
    #[serde(default)]
    pub reencrypt: bool,
}

pub(super) async fn keys_rotate(
    State(s): State<AppState>,
    Json(r): Json<RotateReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::rotate::rotate(c, r.reencrypt)).await
}

#[derive(Deserialize)]
pub(super) struct ExtendReq {
    pub id: BackupId,
    pub by: u64,
}

pub(super) async fn retention_extend(
    State(s): State<AppState>,
    Json(r): Json<ExtendReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::ops::lifecycle::extend(c, &r.id, r.by)).await
}

#[derive(Deserialize)]
pub(super) struct TierReq {
    pub id: BackupId,
    pub tier: shardnet_protocol::Tier,
}

pub(super) async fn retention_tier(
    State(s): State<AppState>,
    Json(r): Json<TierReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| {
        crate::ops::lifecycle::set_tier(c, &r.id, r.tier)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct AuditReq {
    pub warn_days: u64,
}

pub(super) async fn retention_audit(
    State(s): State<AppState>,
    Json(r): Json<AuditReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| crate::ops::lifecycle::audit(c, r.warn_days)).await
}

#[derive(Deserialize)]
pub(super) struct ReportReq {
    pub period: String,
    pub days: u64,
}

pub(super) async fn report(
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

pub(super) async fn distribution_status(
    State(s): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, crate::distribution::status).await
}

pub(super) async fn verify(
    State(s): State<AppState>,
    Json(r): Json<VerifyReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::backup_verify(c, &r.id, r.full)).await
}

#[derive(Deserialize)]
pub(super) struct RepairReq {
    pub id: BackupId,
}

pub(super) async fn repair(
    State(s): State<AppState>,
    Json(r): Json<RepairReq>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::rebuild::rebuild(c, &r.id, true)).await
}
