//! What the node tells monitoring: `GET /metrics` (Prometheus text) and
//! `GET /health` (the verdict of `protocol::health`, status 200 unless
//! critical, for load balancers and watchdogs). Both are served on the
//! metrics listener (`--metrics-listen`, no token: nothing secret in them)
//! and `/health` on the control API too, also without the token.
//!
//! One [`observe`] reads everything on a blocking thread (the store census
//! scans every copy's metadata) and feeds both: the health score is a
//! metric, and the metrics' figures are the health checks' inputs.

use super::state::Shared;
use crate::metrics::Snapshot;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use shardnet_protocol::health::{self, Health, Inputs, Level};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Highest proven-copy count reported on its own (more are counted there).
const COVERAGE_CAP: usize = 8;

/// Reads the node's state: the metrics snapshot and the health verdict.
pub async fn observe(s: &Arc<Shared>) -> (Snapshot, Health) {
    let net = s.net.client.status().await;
    let s2 = s.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        let s = s2;
        let repair = s.repair.status(
            &s.store,
            s.net.usage.draining.load(Ordering::Relaxed),
            s.net.audits.counters_snapshot(),
        );
        let mut stored: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        let _ = s.store.for_each_meta(|_, m| {
            let copies = m.leases.iter().map(|l| l.copies as usize).max();
            let tier = copies.and_then(crate::prune::tier_of).map_or_else(
                || {
                    if copies.is_some() {
                        "custom".to_string()
                    } else {
                        "none".to_string()
                    }
                },
                |t| t.name().to_string(),
            );
            let e = stored
                .entry((format!("{:?}", m.state).to_lowercase(), tier))
                .or_default();
            e.0 += 1;
            e.1 += m.size as u64;
            true
        });
        let jobs = s.store.prune_jobs().unwrap_or_default();
        let reputations = s.net.audits.report(None, 0);
        let debt = s.store.pending_compaction_bytes().unwrap_or(0);
        (repair, stored, jobs, reputations, debt)
    })
    .await;
    let Ok((repair, stored, jobs, reputations, debt)) = blocking else {
        return (Snapshot::default(), failed("the status task failed"));
    };
    let (disk_used, disk_total) = crate::reclaim::disk(s.store.path());
    let scrub = s.scrub.status();
    let peers = s.net.view.list();
    let live: Vec<&crate::membership::PeerInfo> =
        peers.iter().filter(|p| p.live && !p.local).collect();
    let now = crate::output::now_unix();
    let scan = repair.last_scan.clone().unwrap_or_default();
    let mut coverage = [0u64; COVERAGE_CAP + 1];
    for (c, n) in scan.coverage.iter().enumerate() {
        coverage[c.min(COVERAGE_CAP)] += n;
    }
    // From the view (as `rebalance plan`'s load report): a scan that
    // applies no longer lists every peer's load.
    let ratios: Vec<f64> = peers
        .iter()
        .filter_map(crate::repair::utilisation)
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    let imbalance = if mean > 0.0 {
        let max = ratios.iter().copied().fold(f64::MIN, f64::max);
        let min = ratios.iter().copied().fold(f64::MAX, f64::min);
        (max - min) / mean
    } else {
        0.0
    };
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for j in &jobs {
        *by_state
            .entry(
                serde_json::to_value(j.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    let alerts: Vec<String> = s.reclaim.alert().into_iter().map(|a| a.message).collect();
    let used = s.net.usage.used.load(Ordering::Relaxed);
    let inputs = Inputs {
        used,
        capacity: s.capacity,
        disk_used,
        disk_total,
        peers_known: peers.iter().filter(|p| !p.local).count() as u64,
        peers_live: live.len() as u64,
        repair_queue: repair.queued,
        below_target: scan.below_target,
        scrub_period_secs: scrub.period_secs,
        scrub_last_pass_at: scrub.state.last_full_pass_at,
        started_at: s.started_at,
        scrub_bytes_checked: scrub.state.bytes_checked,
        scrub_corruptions: scrub.state.corruptions_found,
        scrub_shards_checked: scrub.state.shards_checked,
        audits_passed: repair.audits.proofs_passed,
        audits_failed: repair.audits.proofs_failed,
        compaction_debt: debt,
        alerts: alerts.clone(),
        peer_versions: live.iter().map(|p| p.heartbeat.version.clone()).collect(),
        version: env!("CARGO_PKG_VERSION").into(),
        now,
    };
    let verdict = match &net {
        Some(_) => health::assess(&inputs),
        None => failed("the swarm stopped"),
    };
    let connected = net.as_ref().map_or(0, |n| n.connected.len() as u64);
    let pressure = net.map(|n| n.pressure).unwrap_or_default();
    let snap = Snapshot {
        capacity: s.capacity,
        used,
        disk_used,
        disk_total,
        stored: stored
            .into_iter()
            .map(|((st, t), (n, b))| (st, t, n, b))
            .collect(),
        owners: s.net.usage.owners(),
        peers_known: inputs.peers_known,
        peers_live: inputs.peers_live,
        peers_connected: connected,
        peers_isolated: reputations
            .iter()
            .filter(|r| r.standing == "isolated")
            .count() as u64,
        repair_queue: repair.queued,
        repair_queue_bytes: repair.queued_bytes,
        repair_in_flight: repair.in_flight,
        repair_eta_secs: repair.eta_secs.unwrap_or(0.0),
        repair_paused: repair.paused,
        transfers_done: repair.transfers_done,
        transfers_failed: repair.failures,
        bytes_moved: repair.bytes_moved,
        redundant_removed: repair.removed,
        below_target: scan.below_target,
        blocked: scan.blocked,
        coverage: coverage
            .iter()
            .enumerate()
            .map(|(c, n)| (c as u64, *n))
            .collect(),
        churn: scan.churn,
        load_imbalance: imbalance,
        scrub_progress: scrub.progress,
        scrub_passes: scrub.state.passes,
        scrub_bytes_checked: scrub.state.bytes_checked,
        scrub_shards_checked: scrub.state.shards_checked,
        scrub_corruptions: scrub.state.corruptions_found,
        scrub_last_pass_at: scrub.state.last_full_pass_at.unwrap_or(0),
        audits_passed: repair.audits.proofs_passed,
        audits_failed: repair.audits.proofs_failed,
        audits_timeouts: repair.audits.timeouts,
        audits_timeouts_excused: repair.audits.timeouts_excused,
        prune_jobs: by_state.into_iter().collect(),
        prune_purged_bytes: jobs.iter().map(|j| j.purged_bytes).sum(),
        alerts: alerts.len() as u64,
        requests_busy: pressure.requests_busy + pressure.requests_over_budget,
        gossip_dropped: pressure.gossip_dropped,
        commands_dropped: pressure.commands_dropped,
        health_score: verdict.score,
        uptime_secs: now.saturating_sub(s.started_at),
    };
    (snap, verdict)
}

fn failed(why: &str) -> Health {
    Health {
        level: Level::Critical,
        score: 0.0,
        checks: vec![health::Check {
            name: "node".into(),
            level: Level::Critical,
            reason: why.into(),
        }],
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let (snap, _) = observe(&s).await;
    *s.metrics
        .node
        .snapshot
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = snap;
    match s.metrics.encode() {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /health`: the verdict as JSON; 503 when critical.
pub async fn health(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let (_, h) = observe(&s).await;
    let code = if h.level == Level::Critical {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(h))
}

/// Binds the metrics listener (`--metrics-listen`), if one is asked for:
/// the listener and the address it got.
pub async fn bind(
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<Option<(tokio::net::TcpListener, String)>> {
    use anyhow::Context;
    let Some(addr) = addr else {
        return Ok(None);
    };
    let l = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "--metrics-listen {addr}: cannot listen there (in use, or not an address of this host)"
        )
    })?;
    let got = l.local_addr()?.to_string();
    tracing::info!(addr = %got, "metrics listening (GET /metrics, /health)");
    Ok(Some((l, got)))
}

/// The metrics listener's routes.
pub fn router(state: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(state)
}
