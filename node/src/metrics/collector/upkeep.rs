//! Upkeep and the node itself: scrubs, audits, prune jobs, alerts, bytes
//! backed up and restored, pressure on the event loop, health and uptime.

use super::super::{BACKUP_BYTES, RESTORE_BYTES};
use super::encode::{counter, gauge, gauges};
use super::Snapshot;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;
use std::sync::atomic::Ordering;

/// Scrubs, audits, prune, alerts, traffic, pressure, health, uptime.
pub(super) fn upkeep(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let b = Some(&Unit::Bytes);
    let secs = Some(&Unit::Seconds);
    gauge(
        e,
        "shardnet_scrub_progress_ratio",
        "Share of the current scrub pass done.",
        None,
        s.scrub_progress,
    )?;
    counter(
        e,
        "shardnet_scrub_passes",
        "Full scrub passes completed.",
        None,
        s.scrub_passes,
    )?;
    counter(
        e,
        "shardnet_scrub_checked",
        "Bytes read and hashed by the scrub.",
        b,
        s.scrub_bytes_checked,
    )?;
    counter(
        e,
        "shardnet_scrub_shards_checked",
        "Copies read and hashed by the scrub.",
        None,
        s.scrub_shards_checked,
    )?;
    counter(
        e,
        "shardnet_scrub_corruptions",
        "Corrupted copies the scrub found.",
        None,
        s.scrub_corruptions,
    )?;
    gauge(
        e,
        "shardnet_scrub_last_pass_timestamp",
        "Unix time the last full scrub pass ended (0: never).",
        secs,
        s.scrub_last_pass_at as f64,
    )?;
    counter(
        e,
        "shardnet_audits_passed",
        "Possession proofs that verified.",
        None,
        s.audits_passed,
    )?;
    counter(
        e,
        "shardnet_audits_failed",
        "Possession proofs that failed.",
        None,
        s.audits_failed,
    )?;
    counter(
        e,
        "shardnet_audits_timeouts",
        "Possession proofs not answered in time.",
        None,
        s.audits_timeouts,
    )?;
    counter(
        e,
        "shardnet_audits_timeouts_excused",
        "Of the proofs not answered in time, those while this node lagged (health score above zero): counted as busy answers, not as failures.",
        None,
        s.audits_timeouts_excused,
    )?;
    gauges(
        e,
        "shardnet_prune_jobs",
        "Prune jobs by state.",
        None,
        s.prune_jobs
            .iter()
            .map(|(st, n)| (vec![("state", st.clone())], *n as f64)),
    )?;
    counter(
        e,
        "shardnet_prune_purged",
        "Bytes purged by prune jobs (kept jobs).",
        b,
        s.prune_purged_bytes,
    )?;
    gauge(
        e,
        "shardnet_alerts",
        "Alerts raised by the node (emergency reclaim).",
        None,
        s.alerts as f64,
    )?;
    counter(
        e,
        "shardnet_backup",
        "Bytes backed up through this node since start.",
        b,
        BACKUP_BYTES.load(Ordering::Relaxed),
    )?;
    counter(
        e,
        "shardnet_restore",
        "Bytes restored through this node since start.",
        b,
        RESTORE_BYTES.load(Ordering::Relaxed),
    )?;
    counter(
        e,
        "shardnet_requests_busy",
        "Inbound requests refused as busy (queue or response budget full).",
        None,
        s.requests_busy,
    )?;
    counter(
        e,
        "shardnet_gossip_dropped",
        "Gossip messages dropped by the event loop under load.",
        None,
        s.gossip_dropped,
    )?;
    counter(
        e,
        "shardnet_event_loop_dropped",
        "Commands to the swarm event loop dropped (queue full).",
        None,
        s.commands_dropped,
    )?;
    gauge(
        e,
        "shardnet_health_score",
        "The node's health verdict, 0 to 1 (`node health`).",
        None,
        s.health_score,
    )?;
    gauge(
        e,
        "shardnet_uptime",
        "Time since the node started.",
        secs,
        s.uptime_secs as f64,
    )?;
    Ok(())
}
