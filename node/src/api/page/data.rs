//! What the status page shows, gathered from the node's parts (also served
//! as JSON to the page's script).

use super::super::observe;
use super::super::state::Shared;
use serde::{Deserialize, Serialize};
use shardnet_store::AuditFilter;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the page shows, also served as JSON to its script.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct PageData {
    pub peer_id: String,
    pub version: String,
    pub zone: String,
    pub health: String,
    pub health_score: f64,
    pub problems: Vec<String>,
    pub used: u64,
    pub capacity: u64,
    pub shards: u64,
    pub healthy: u64,
    pub connected_peers: u64,
    pub live_peers: u64,
    pub uptime_secs: u64,
    pub bandwidth_limit: u64,
    pub bytes_moved: u64,
    pub repair_queue: u64,
    pub repair_in_flight: u64,
    pub repair_eta_secs: f64,
    pub repair_paused: bool,
    pub below_target: u64,
    pub peers: Vec<PeerRow>,
    pub events: Vec<EventRow>,
    pub backups: Vec<BackupRow>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct PeerRow {
    pub peer: String,
    pub state: String,
    pub zone: String,
    pub version: String,
    pub standing: String,
    pub score: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct EventRow {
    pub at: u64,
    pub action: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct BackupRow {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub files: u64,
    pub bytes: u64,
}

pub(super) async fn gather(s: &Arc<Shared>) -> PageData {
    let (snap, health) = observe::observe(s).await;
    let net = s.net.client.status().await;
    let s2 = s.clone();
    let (stats, reps, events, backups, bandwidth) = tokio::task::spawn_blocking(move || {
        let stats = s2.store.stats().unwrap_or_default();
        let reps = s2.net.audits.report(None, 0);
        let events = s2
            .store
            .audit_query(&AuditFilter {
                limit: 12,
                ..Default::default()
            })
            .unwrap_or_default();
        let backups = s2.store.list_backups().unwrap_or_default();
        let bandwidth = s2.net.live.bandwidth.upload.limit();
        (stats, reps, events, backups, bandwidth)
    })
    .await
    .unwrap_or_default();
    let standing: HashMap<String, (String, f64)> = reps
        .into_iter()
        .map(|r| (r.peer, (r.standing, r.score)))
        .collect();
    let peers = s
        .net
        .view
        .list()
        .into_iter()
        .filter(|p| !p.local)
        .map(|p| {
            let (st, score) = standing.get(&p.peer_id).cloned().unwrap_or_default();
            PeerRow {
                state: format!("{:?}", p.state).to_lowercase(),
                zone: p.heartbeat.zone.clone(),
                version: p.heartbeat.version.clone(),
                peer: p.peer_id,
                standing: if st.is_empty() { "-".into() } else { st },
                score,
            }
        })
        .collect();
    PageData {
        peer_id: s.net.client.local_peer_id().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        zone: s.zone.clone(),
        health: health.level.name().into(),
        health_score: health.score,
        problems: health
            .checks
            .iter()
            .filter(|c| c.level != shardnet_protocol::health::Level::Ok)
            .map(|c| format!("{} ({}): {}", c.name, c.level.name(), c.reason))
            .collect(),
        used: s.net.usage.used.load(Ordering::Relaxed),
        capacity: s.capacity,
        shards: stats.shards,
        healthy: stats.healthy,
        connected_peers: net.as_ref().map_or(0, |n| n.connected.len() as u64),
        live_peers: s.net.view.live_peers().len() as u64,
        uptime_secs: snap.uptime_secs,
        bandwidth_limit: bandwidth,
        bytes_moved: snap.bytes_moved,
        repair_queue: snap.repair_queue,
        repair_in_flight: snap.repair_in_flight,
        repair_eta_secs: snap.repair_eta_secs,
        repair_paused: snap.repair_paused,
        below_target: snap.below_target,
        peers,
        events: events
            .into_iter()
            .rev()
            .map(|e| EventRow {
                at: e.at,
                action: e.action.name().into(),
                detail: e.detail,
            })
            .collect(),
        backups: backups
            .into_iter()
            .rev()
            .map(|b| BackupRow {
                id: b.id.to_string(),
                name: b.info.name,
                tier: b.info.tier.to_string(),
                created_at: b.info.created_at,
                expires_at: b.info.expires_at,
                files: b.info.files,
                bytes: b.info.bytes,
            })
            .collect(),
    }
}
