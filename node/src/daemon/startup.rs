//! What the daemon checks and restores before its services start: the
//! identity's admission work against the swarm's difficulty, the settings
//! line for the audit log, and the pause and drain an operator set before a
//! restart (both hold across restarts).

use crate::api;
use crate::config::NodeConfig;
use crate::repair::Repair;
use crate::storage::Usage;
use libp2p::identity::Keypair;
use libp2p::PeerId;
use shardnet_protocol::admission;
use shardnet_store::Store;
use std::sync::atomic::Ordering;
use tracing::warn;

/// Refuses an identity whose admission work is below `difficulty`: its
/// peers would never give it a shard.
pub(super) fn check_work(keypair: &Keypair, difficulty: u8) -> anyhow::Result<()> {
    let work = admission::work(&keypair.public().to_peer_id().to_bytes());
    if work < u32::from(difficulty) {
        anyhow::bail!(
            "this node's identity carries {work} bits of admission work and the swarm asks {} \
             (id_difficulty): its peers would never give it a shard. Make a new data dir \
             with `shardnet --data-dir NEW init --id-difficulty {}`, or lower id_difficulty \
             on every node of the swarm",
            difficulty,
            difficulty
        );
    }
    Ok(())
}

/// The node's settings, as recorded in the audit log at every start.
pub(super) fn started(cfg: &NodeConfig, local: &PeerId) -> String {
    format!(
        "version {}, peer {local}, zone {}, capacity {}, quota per owner {}, down after {:?} (patience up to {:?}), \
         {} trusted peers, id difficulty {}, {} swarm, clock {}s ahead",
        env!("CARGO_PKG_VERSION"),
        cfg.zone,
        cfg.capacity,
        cfg.quota_per_owner,
        cfg.down_after,
        cfg.patience_max.max(cfg.down_after),
        cfg.trusted_peers.len(),
        cfg.id_difficulty,
        if cfg.swarm_key.is_some() {
            "private"
        } else {
            "open"
        },
        crate::output::clock_offset(),
    )
}

/// Holds `rebalance pause` and a drain across restarts.
pub(super) fn restore_holds(store: &Store, repair: &Repair, usage: &Usage) -> anyhow::Result<()> {
    // `rebalance pause` holds across restarts (maintenance often restarts
    // the node): only `rebalance resume` or a drain lifts it.
    if store.get_state(crate::repair::PAUSED_STATE)?.as_deref() == Some(b"1") {
        repair.paused.store(true, Ordering::Relaxed);
        warn!("repair and rebalancing stay paused (`shardnet rebalance resume` resumes them)");
    }
    if store.get_state(api::settings::DRAINING_STATE)?.as_deref() == Some(b"1") {
        usage.draining.store(true, Ordering::Relaxed);
        warn!("the drain goes on (`shardnet node drain --cancel` ends it)");
    }
    Ok(())
}
