//! The control API: HTTP on 127.0.0.1, guarded by a bearer token kept in the
//! data dir (`api.token`, mode 0600). While a node runs, every CLI command goes
//! through it ([`client`]); the daemon serves it ([`server`]). `api.json` says
//! where it listens.

pub mod client;
mod html;
pub mod observe;
pub mod page;
pub mod report;
pub mod server;
pub mod sessions;
pub mod settings;
pub mod state;

use axum::routing::get;
use axum::{middleware, Router};
use serde::{Deserialize, Serialize};
use state::AppState;

pub const TOKEN_FILE: &str = "api.token";
/// A token that can only read: the status page's login, and dashboards'
/// GETs of [`state::READ_ONLY`] paths.
pub const READONLY_TOKEN_FILE: &str = "api.readonly.token";
pub const ENDPOINT_FILE: &str = "api.json";

/// Contents of `api.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Endpoint {
    pub url: String,
    pub pid: u32,
}

/// `GET /v1/progress`: bytes done of the latest backup or restore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    pub label: String,
    pub done: u64,
    pub total: u64,
}

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeStatus {
    pub peer_id: String,
    pub version: String,
    pub zone: String,
    pub listen: Vec<String>,
    pub connected_peers: usize,
    pub live_peers: usize,
    pub capacity: u64,
    pub used: u64,
    pub quota_per_owner: u64,
    pub draining: bool,
    pub store: shardnet_store::StoreStats,
    /// Load shed by the swarm event loop since start.
    #[serde(default)]
    pub pressure: crate::swarm::Pressure,
    /// Bits of admission work a peer id needs here, and heartbeats ignored
    /// since start from ids without it.
    #[serde(default)]
    pub id_difficulty: u8,
    #[serde(default)]
    pub unadmitted_heartbeats: u64,
    /// Conditions the operator should act on (emergency reclaim running).
    #[serde(default)]
    pub alerts: Vec<crate::reclaim::Alert>,
    /// Where Prometheus metrics and `/health` are served (`--metrics-listen`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

/// Every route the daemon serves: the token-guarded `/v1` API and settings,
/// then what needs no bearer token (`/health` for watchdogs, the status page
/// behind its own session cookie).
pub fn router(state: AppState) -> Router {
    server::routes()
        .merge(settings::routes())
        .layer(middleware::from_fn_with_state(state.clone(), server::auth))
        .with_state(state.clone())
        // For load balancers and watchdogs: no token, nothing secret.
        .merge(
            Router::new()
                .route("/health", get(observe::health))
                .with_state(state.clone()),
        )
        .merge(page::router(state))
}
