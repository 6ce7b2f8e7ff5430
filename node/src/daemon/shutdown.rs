//! How the daemon stops: a crash (the simulator's) aborts every task and
//! flushes nothing; a graceful stop announces leave, stops the API and the
//! services that use the swarm, then the swarm, lets the storage writer
//! finish its group, and flushes the store. Also the signals that ask for it.

use super::Stop;
use crate::api;
use crate::datadir::DataDir;
use crate::membership::{Announcement, View};
use crate::swarm::{Client, MEMBERSHIP_TOPIC};
use shardnet_store::Store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// How long shutdown waits for tasks before giving up on them.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(8);

/// Stops the node's tasks as `how` says: `first` (the API and the services
/// using the swarm, then the swarm) before `last` (the router and storage).
pub(super) async fn stop(
    how: Stop,
    (first, last): (Vec<JoinHandle<()>>, [JoinHandle<()>; 2]),
    stop_tx: watch::Sender<bool>,
    (client, view): (Client, &View),
    watchdog: Option<JoinHandle<()>>,
    (dd, store): (&DataDir, &Store),
) -> anyhow::Result<()> {
    if how == Stop::Crash {
        warn!("crashing (simulated): no leave, no flush");
        let _ = stop_tx.send(true);
        first.iter().chain(&last).for_each(|t| t.abort());
        // Aborted tasks drop their handles on the store at their next poll:
        // wait for that (briefly), so the store is closed when this returns.
        let all = futures::future::join_all(first.into_iter().chain(last));
        let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
        return Ok(());
    }
    crate::notify::send("STOPPING=1");
    if let Some(w) = &watchdog {
        w.abort();
    }
    info!("shutting down: announcing leave");
    // From here this node signs no new record and answers probes `Busy`:
    // its own answers must not undo its leave at the others.
    view.leave();
    // Every record this run signed is dated at or before now.
    super::persist::save_left_at(dd, crate::output::now_unix());
    client
        .publish(MEMBERSHIP_TOPIC, Announcement::Leave.encode())
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = std::fs::remove_file(dd.root().join(api::ENDPOINT_FILE));
    let _ = stop_tx.send(true);
    let all = async {
        for t in first {
            let _ = t.await;
        }
        drop(client);
        for t in last {
            let _ = t.await;
        }
    };
    if tokio::time::timeout(SHUTDOWN_DEADLINE, all).await.is_err() {
        warn!("some tasks did not stop within {SHUTDOWN_DEADLINE:?}");
    }
    info!("flushing the store");
    store.flush()?;
    info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signals() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
