//! Upkeep over the API: rebalancing, scrubs, prune jobs and the audit trail.

use crate::api::state::{err, operator, with_ctx, ApiError, AppState};
use crate::ops;
use crate::repair::{self, Plan, RepairStatus};
use crate::scrub::ScrubStatus;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use shardnet_store::{AuditAction, AuditFilter};
use std::sync::atomic::Ordering;

#[derive(Deserialize)]
pub(super) struct PlanReq {
    pub churn_threshold: Option<f64>,
}

pub(super) async fn rebalance_plan(
    State(s): State<AppState>,
    Json(r): Json<PlanReq>,
) -> Json<Plan> {
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
pub(super) struct RunReq {
    pub parallel: Option<usize>,
    pub dry_run: bool,
}

pub(super) async fn rebalance_run(State(s): State<AppState>, Json(r): Json<RunReq>) -> Json<Plan> {
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
    let mut plan = repair::scan(&s.net, &s.store, &s.repair, !r.dry_run, 0.2).await;
    // A scan that applies leaves the load report out (a dry run has it);
    // the operator's printout wants it.
    if !r.dry_run {
        (plan.load, plan.churn) = repair::load_report(&s.net);
    }
    Json(plan)
}

pub(crate) async fn rebalance_status(
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

pub(super) async fn audit_log(
    State(s): State<AppState>,
    Json(f): Json<AuditFilter>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::audit_log(c.store, &f)).await
}

pub(super) async fn audit_verify(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, |c| ops::audit_verify(c.store)).await
}

pub(super) async fn prune_plan(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneRunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_plan(c.store, c.net, &r)).await
}

pub(super) async fn prune_run(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneRunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_run(c.store, c.net, &r)).await
}

pub(super) async fn prune_jobs(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, |c| ops::prune_jobs(c.store)).await
}

pub(super) async fn prune_status(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_status(c.store, &r)).await
}

pub(super) async fn prune_rollback(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_rollback(c.store, &r)).await
}

pub(super) async fn prune_purge(
    State(s): State<AppState>,
    Json(r): Json<ops::PruneJobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    with_ctx(s, move |c| ops::prune_purge(c.store, c.net, &r)).await
}

/// Pauses or resumes repair, and records it so that a restart keeps it.
pub(crate) async fn set_paused(s: &AppState, paused: bool) -> Result<(), ApiError> {
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

pub(super) async fn rebalance_pause(
    State(s): State<AppState>,
) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::RebalancePaused).await;
    set_paused(&s, true).await?;
    rebalance_status(State(s)).await
}

pub(super) async fn rebalance_resume(
    State(s): State<AppState>,
) -> Result<Json<RepairStatus>, ApiError> {
    operator(&s, AuditAction::RebalanceResumed).await;
    set_paused(&s, false).await?;
    rebalance_status(State(s)).await
}

pub(super) async fn scrub_status(State(s): State<AppState>) -> Json<ScrubStatus> {
    Json(s.scrub.status())
}

pub(super) async fn scrub_start(State(s): State<AppState>) -> Result<Json<ScrubStatus>, ApiError> {
    operator(&s, AuditAction::ScrubStarted).await;
    let st = s.clone();
    tokio::task::spawn_blocking(move || st.scrub.start())
        .await
        .map_err(err)?;
    Ok(scrub_status(State(s)).await)
}

pub(super) async fn scrub_pause(State(s): State<AppState>) -> Result<Json<ScrubStatus>, ApiError> {
    operator(&s, AuditAction::ScrubPaused).await;
    let st = s.clone();
    tokio::task::spawn_blocking(move || st.scrub.pause())
        .await
        .map_err(err)?;
    Ok(scrub_status(State(s)).await)
}
