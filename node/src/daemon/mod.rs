//! `shardnet node run`: the daemon. Start-up in order: store and usage scan,
//! swarm, membership (heartbeats in, heartbeats out), storage service, control
//! API. Shutdown (SIGINT/SIGTERM, or the future passed in by tests) in reverse:
//! announce leave, stop the API, stop the swarm, let the storage writer finish
//! its group, flush the store.

mod members;
mod persist;
mod route;
mod shutdown;
mod startup;

pub use shutdown::signals;

use persist::{fresh_token, load_known_peers, load_radius, write_private};
use route::route;

use crate::api;
use crate::config::NodeConfig;
use crate::datadir::DataDir;
use crate::distribute::Net;
use crate::membership::{Heartbeat, View};
use crate::repair::{self, Repair, RepairConfig};
use crate::storage::{self, Limits, Usage};
use crate::swarm::{self, SwarmConfig};
use crate::upkeep;
use anyhow::Context;
use std::future::IntoFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

fn heartbeat(cfg: &NodeConfig, usage: &Usage, listen: &[String]) -> Heartbeat {
    Heartbeat {
        zone: cfg.zone.clone(),
        capacity: cfg.capacity,
        used: usage.used.load(Ordering::Relaxed),
        version: env!("CARGO_PKG_VERSION").into(),
        addrs: listen
            .iter()
            .filter(|a| {
                !a.contains("/0.0.0.0/") && a.len() <= crate::membership::MAX_HEARTBEAT_FIELD
            })
            .take(crate::membership::MAX_HEARTBEAT_ADDRS)
            .cloned()
            .collect(),
        draining: usage.draining.load(Ordering::Relaxed),
        radius: usage.radius(),
    }
}

/// How a node run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Announce leave, finish writes, flush the store.
    Graceful,
    /// As if the process died: no leave, no final flush (the simulator's crash).
    Crash,
}

/// Runs the node until `shutdown` resolves (the `shardnet node run` command).
pub async fn run(
    dd: DataDir,
    cfg: NodeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    run_until(
        dd,
        cfg,
        async {
            shutdown.await;
            Stop::Graceful
        },
        true,
    )
    .await
}

/// Runs the node until `stop` resolves, then stops as it says. `announce`
/// prints the node's id and API address on stdout (the command line does; the
/// simulator, running dozens of nodes, does not).
pub async fn run_until(
    dd: DataDir,
    cfg: NodeConfig,
    stop: impl std::future::Future<Output = Stop>,
    announce: bool,
) -> anyhow::Result<()> {
    dd.check_permissions()?;
    let keypair = dd.node_identity()?;
    startup::check_work(&keypair, cfg.id_difficulty)?;
    let store = Arc::new(dd.open_store()?);
    for line in crate::prune::recover(&store, crate::output::now_unix())
        .context("finishing prune jobs a crash interrupted")?
    {
        warn!("{line}");
    }
    let usage = Arc::new(Usage::scan(&store)?);
    *usage.radius.lock().unwrap_or_else(|p| p.into_inner()) = load_radius(&dd, cfg.capacity);
    let known = load_known_peers(&dd);
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let live = Arc::new(crate::settings::Live::new(&cfg.limits, cfg.windows.clone()));
    let identity = keypair.clone();
    let (client, event_loop, events) = swarm::new(SwarmConfig {
        keypair,
        listen: cfg.listen.clone(),
        bootstrap: cfg.bootstrap.clone(),
        known,
        psk: cfg.swarm_key,
        // Recorded only when served: recording every event costs the event
        // loop (a swarm restore ran at half speed with it, see the notes).
        metrics: cfg.metrics_listen.is_some().then(|| metrics.swarm.clone()),
        max_memory: cfg.max_memory,
    })?;
    let client = client.with_bandwidth(live.bandwidth.clone());
    let local = client.local_peer_id();
    info!(peer = %local, zone = %cfg.zone, "node starting");
    let started = startup::started(&cfg, &local);
    if let Err(e) = store.record(shardnet_store::AuditAction::NodeStarted, started) {
        warn!("could not record the start in the audit log: {e}");
    }
    let view = Arc::new(
        View::new(local, cfg.heartbeat, cfg.down_after)
            .with_refresh(cfg.membership_refresh)
            .with_patience_max(cfg.patience_max)
            .with_difficulty(cfg.id_difficulty)
            .with_observed_zones(cfg.swarm_key.is_none()),
    );
    let repair = Repair::new(RepairConfig {
        scan_interval: cfg.scan_interval,
        parallel: cfg.parallel,
        bandwidth: cfg.limits.transfers,
        warmup: cfg.heartbeat * (crate::membership::LIVE_PERIODS + 1),
        audit_interval: cfg.audit_interval,
        quarantine_grace: cfg.quarantine_grace,
    });
    startup::restore_holds(&store, &repair, &usage)?;
    let audits = Arc::new(
        crate::audit::Audits::load(
            store.clone(),
            view.clone(),
            shardnet_protocol::reputation::Policy {
                vetting_passes: cfg.vetting_proofs,
                ..Default::default()
            },
            cfg.audit_interval,
        )
        .with_anchors(cfg.trusted_peers.iter().copied()),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let swarm_task = tokio::spawn(event_loop.run(stopped(stop_rx.clone())));
    let (storage_tx, storage_rx) = mpsc::channel(256);
    let router = tokio::spawn(route(
        events,
        view.clone(),
        client.clone(),
        repair.clone(),
        storage_tx,
    ));
    let limits = Limits {
        capacity: cfg.capacity,
        quota_per_owner: cfg.quota_per_owner,
        key: shardnet_protocol::placement::peer_key(&local.to_bytes()),
    };
    let storage_task = tokio::spawn(storage::run(
        store.clone(),
        client.clone(),
        usage.clone(),
        limits,
        view.clone(),
        storage_rx,
    ));

    let hb_task = tokio::spawn(members::run(
        (client.clone(), view.clone(), usage.clone(), identity),
        (cfg.clone(), repair.clone(), dd.clone()),
        stop_rx.clone(),
    ));

    // Control API.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.api_port))
        .await
        .with_context(|| format!("binding the control API on 127.0.0.1:{}", cfg.api_port))?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = fresh_token(&dd.root().join(api::TOKEN_FILE))?;
    let readonly_token = fresh_token(&dd.root().join(api::READONLY_TOKEN_FILE))?;
    let ep = api::Endpoint {
        url: url.clone(),
        pid: std::process::id(),
    };
    write_private(
        &dd.root().join(api::ENDPOINT_FILE),
        &serde_json::to_vec(&ep)?,
    )
    .context("writing api.json")?;
    let net = Arc::new(Net {
        client: client.clone(),
        view: view.clone(),
        handle: tokio::runtime::Handle::current(),
        usage: usage.clone(),
        audits,
        live: live.clone(),
    });
    let repair_task = tokio::spawn(repair::run(
        net.clone(),
        store.clone(),
        repair.clone(),
        stop_rx.clone(),
    ));
    let pace = (cfg.scrub_period, cfg.scrub_tranquility);
    let scrub = crate::scrub::Scrub::new(store.clone(), pace, live.clone());
    let scrub_task = tokio::spawn(scrub.clone().run(stop_rx.clone()));
    let services = (repair.clone(), scrub.clone(), store.clone());
    let settings = crate::settings::Settings::new(dd.root().into(), cfg.clone(), live, services);
    let hup_task = tokio::spawn(crate::settings::on_sighup(
        settings.clone(),
        stop_rx.clone(),
    ));
    let purge_task = tokio::spawn(upkeep::prune_purge(
        store.clone(),
        net.clone(),
        cfg.prune_purge_after,
        cfg.scan_interval.max(Duration::from_secs(1)),
        stop_rx.clone(),
    ));
    let reclaim = Arc::new(crate::reclaim::Reclaim::default());
    let reclaim_task = tokio::spawn(upkeep::reclaim(
        reclaim.clone(),
        store.clone(),
        net.clone(),
        repair.clone(),
        cfg.capacity,
        cfg.scan_interval.max(Duration::from_secs(1)),
        stop_rx.clone(),
    ));
    let trim_task = tokio::spawn(upkeep::audit_trim(
        store.clone(),
        cfg.audit_retention,
        stop_rx.clone(),
    ));
    let segments_task = tokio::spawn(upkeep::segment_reclaim(store.clone(), stop_rx.clone()));
    let catalogue_task = tokio::spawn(upkeep::catalogue(
        net.clone(),
        store.clone(),
        dd.clone(),
        (cfg.scan_interval * 5).max(Duration::from_secs(10)),
        stop_rx.clone(),
    ));
    // The owner's pieces: lazy, so a rarer pass than repair's scans.
    let pieces_task = tokio::spawn(upkeep::pieces(
        net.clone(),
        store.clone(),
        dd.clone(),
        (cfg.scan_interval * 30).max(Duration::from_secs(60)),
        stop_rx.clone(),
    ));
    // The pieces this node holds for others: the same period.
    let held_pieces_task = tokio::spawn(upkeep::held_pieces(
        net.clone(),
        store.clone(),
        (cfg.scan_interval * 30).max(Duration::from_secs(60)),
        stop_rx.clone(),
    ));
    let metrics_listener = crate::api::observe::bind(cfg.metrics_listen).await?;
    let metrics_addr = metrics_listener.as_ref().map(|(_, a)| a.clone());
    let shared = Arc::new(api::state::Shared {
        store: store.clone(),
        dd: dd.clone(),
        net,
        repair,
        scrub,
        token,
        zone: cfg.zone.clone(),
        capacity: cfg.capacity,
        quota_per_owner: cfg.quota_per_owner,
        progress: indicatif::ProgressBar::hidden(),
        reclaim,
        metrics,
        metrics_listen: metrics_addr.clone(),
        started_at: crate::output::now_unix(),
        readonly_token,
        sessions: Default::default(),
        settings,
    });
    let serve = |l: tokio::net::TcpListener, r: axum::Router, what: &'static str| {
        let serving = axum::serve(l, r).with_graceful_shutdown(stopped(stop_rx.clone()));
        tokio::spawn(async move {
            if let Err(e) = serving.into_future().await {
                warn!("the {what} stopped: {e}");
            }
        })
    };
    let sample_task = tokio::spawn(crate::api::report::sampler(
        shared.clone(),
        cfg.audit_retention,
        stop_rx.clone(),
    ));
    let metrics_task = metrics_listener
        .map(|(l, _)| serve(l, api::observe::router(shared.clone()), "metrics listener"));
    let api_task = serve(listener, api::router(shared), "control API");
    info!(%url, "control API listening");
    crate::notify::send(&format!("READY=1\nSTATUS=serving; control API {url}"));
    let watchdog = crate::notify::watchdog(client.clone(), stop_rx.clone());
    info!("status page {url}/ (log in with the token in api.readonly.token)");
    if announce {
        println!("node {local} running; control API {url}");
    }

    // Shutdown order: the API first, the swarm after the services that use
    // it, the storage service last (its writer finishes its group).
    let first: Vec<tokio::task::JoinHandle<()>> = [api_task]
        .into_iter()
        .chain(metrics_task)
        .chain([
            repair_task,
            scrub_task,
            hup_task,
            sample_task,
            catalogue_task,
            pieces_task,
            held_pieces_task,
            trim_task,
            segments_task,
            reclaim_task,
            purge_task,
            hb_task,
            swarm_task,
        ])
        .collect();
    let last = [router, storage_task];
    let how = stop.await;
    shutdown::stop(
        how,
        (first, last),
        stop_tx,
        (client, &view),
        watchdog,
        (&dd, &store),
    )
    .await
}

#[cfg(test)]
mod tests;
