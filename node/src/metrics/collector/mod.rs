//! The node's own metrics, read when Prometheus scrapes: a [`Snapshot`]
//! the scrape handler fills on a blocking thread (api/observe.rs), exported
//! by [`NodeCollector`].

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use super::{BACKUP_BYTES, RESTORE_BYTES};

mod snapshot;

pub use snapshot::*;

/// Exports the latest [`Snapshot`] at every scrape.
#[derive(Debug, Default)]
pub struct NodeCollector {
    pub snapshot: Mutex<Snapshot>,
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    let m = enc.encode_descriptor(name, help, unit, g.metric_type())?;
    g.encode(m)
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, unit, c.metric_type())?;
    c.encode(m)
}

/// A gauge family with one label set per row.
fn gauges<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl Iterator<Item = (Vec<(&'a str, String)>, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in rows {
        let g = ConstGauge::new(v);
        g.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for NodeCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let b = Some(&Unit::Bytes);
        let secs = Some(&Unit::Seconds);
        gauge(
            &mut e,
            "shardnet_capacity",
            "Bytes this node offers the swarm (--capacity).",
            b,
            s.capacity as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_used",
            "Bytes of shards this node holds.",
            b,
            s.used as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_disk_used",
            "Bytes used on the file system of the store.",
            b,
            s.disk_used as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_disk_size",
            "Bytes of the file system of the store.",
            b,
            s.disk_total as f64,
        )?;
        gauges(
            &mut e,
            "shardnet_stored_shards",
            "Local copies by state (healthy, corrupted, quarantined) and tier.",
            None,
            s.stored
                .iter()
                .map(|(st, t, n, _)| (vec![("state", st.clone()), ("tier", t.clone())], *n as f64)),
        )?;
        gauges(
            &mut e,
            "shardnet_stored",
            "Bytes of local copies by state and tier.",
            b,
            s.stored
                .iter()
                .map(|(st, t, _, n)| (vec![("state", st.clone()), ("tier", t.clone())], *n as f64)),
        )?;
        gauge(
            &mut e,
            "shardnet_owners",
            "Owners with a lease on a local copy (a count; owners are not named).",
            None,
            s.owners as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_peers_known",
            "Peers in this node's membership view.",
            None,
            s.peers_known as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_peers_live",
            "Peers heard from within the liveness window.",
            None,
            s.peers_live as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_peers_connected",
            "Peers with an open connection.",
            None,
            s.peers_connected as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_peers_isolated",
            "Peers isolated for failed proofs or by the operator.",
            None,
            s.peers_isolated as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_repair_queue",
            "Transfers waiting in the repair queue.",
            None,
            s.repair_queue as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_repair_queue",
            "Bytes waiting in the repair queue.",
            b,
            s.repair_queue_bytes as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_repair_in_flight",
            "Transfers under way.",
            None,
            s.repair_in_flight as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_repair_eta",
            "Estimated time to drain the repair queue.",
            secs,
            s.repair_eta_secs,
        )?;
        gauge(
            &mut e,
            "shardnet_repair_paused",
            "1 while repair and rebalancing are paused by the operator.",
            None,
            f64::from(u8::from(s.repair_paused)),
        )?;
        counter(
            &mut e,
            "shardnet_transfers",
            "Repair and handoff transfers completed.",
            None,
            s.transfers_done,
        )?;
        counter(
            &mut e,
            "shardnet_transfers_failed",
            "Repair and handoff transfers that failed.",
            None,
            s.transfers_failed,
        )?;
        counter(
            &mut e,
            "shardnet_transferred",
            "Bytes moved by repair and handoff.",
            b,
            s.bytes_moved,
        )?;
        counter(
            &mut e,
            "shardnet_redundant_removed",
            "Surplus copies quarantined by repair.",
            None,
            s.redundant_removed,
        )?;
        gauge(
            &mut e,
            "shardnet_shards_below_target",
            "Shards with fewer proven copies than their leases want (last scan).",
            None,
            s.below_target as f64,
        )?;
        gauge(
            &mut e,
            "shardnet_shards_blocked",
            "Shards that cannot reach their copies: too few eligible peers (last scan).",
            None,
            s.blocked as f64,
        )?;
        gauges(
            &mut e,
            "shardnet_replication_coverage_shards",
            "Shards by proven copies, from the last repair scan (a histogram by copies).",
            None,
            s.coverage
                .iter()
                .map(|(c, n)| (vec![("copies", c.to_string())], *n as f64)),
        )?;
        let (sum, n) = s
            .coverage
            .iter()
            .fold((0u64, 0u64), |(sum, n), (c, k)| (sum + c * k, n + k));
        gauge(
            &mut e,
            "shardnet_replication_coverage_ratio",
            "Mean proven copies per shard the last repair scan decided on (3: three copies each).",
            None,
            if n == 0 { 0.0 } else { sum as f64 / n as f64 },
        )?;
        gauge(
            &mut e,
            "shardnet_replication_min_copies",
            "Fewest proven copies of any scanned shard (last scan).",
            None,
            s.coverage
                .iter()
                .find(|(_, n)| *n > 0)
                .map_or(0.0, |(c, _)| *c as f64),
        )?;
        gauge(
            &mut e,
            "shardnet_churn_ratio",
            "Share of known peers not live.",
            None,
            s.churn,
        )?;
        gauge(
            &mut e,
            "shardnet_load_imbalance_ratio",
            "(max - min) / mean of the peers' used/capacity.",
            None,
            s.load_imbalance,
        )?;
        gauge(
            &mut e,
            "shardnet_scrub_progress_ratio",
            "Share of the current scrub pass done.",
            None,
            s.scrub_progress,
        )?;
        counter(
            &mut e,
            "shardnet_scrub_passes",
            "Full scrub passes completed.",
            None,
            s.scrub_passes,
        )?;
        counter(
            &mut e,
            "shardnet_scrub_checked",
            "Bytes read and hashed by the scrub.",
            b,
            s.scrub_bytes_checked,
        )?;
        counter(
            &mut e,
            "shardnet_scrub_shards_checked",
            "Copies read and hashed by the scrub.",
            None,
            s.scrub_shards_checked,
        )?;
        counter(
            &mut e,
            "shardnet_scrub_corruptions",
            "Corrupted copies the scrub found.",
            None,
            s.scrub_corruptions,
        )?;
        gauge(
            &mut e,
            "shardnet_scrub_last_pass_timestamp",
            "Unix time the last full scrub pass ended (0: never).",
            secs,
            s.scrub_last_pass_at as f64,
        )?;
        counter(
            &mut e,
            "shardnet_audits_passed",
            "Possession proofs that verified.",
            None,
            s.audits_passed,
        )?;
        counter(
            &mut e,
            "shardnet_audits_failed",
            "Possession proofs that failed.",
            None,
            s.audits_failed,
        )?;
        counter(
            &mut e,
            "shardnet_audits_timeouts",
            "Possession proofs not answered in time.",
            None,
            s.audits_timeouts,
        )?;
        gauges(
            &mut e,
            "shardnet_prune_jobs",
            "Prune jobs by state.",
            None,
            s.prune_jobs
                .iter()
                .map(|(st, n)| (vec![("state", st.clone())], *n as f64)),
        )?;
        counter(
            &mut e,
            "shardnet_prune_purged",
            "Bytes purged by prune jobs (kept jobs).",
            b,
            s.prune_purged_bytes,
        )?;
        gauge(
            &mut e,
            "shardnet_alerts",
            "Alerts raised by the node (emergency reclaim).",
            None,
            s.alerts as f64,
        )?;
        counter(
            &mut e,
            "shardnet_backup",
            "Bytes backed up through this node since start.",
            b,
            BACKUP_BYTES.load(Ordering::Relaxed),
        )?;
        counter(
            &mut e,
            "shardnet_restore",
            "Bytes restored through this node since start.",
            b,
            RESTORE_BYTES.load(Ordering::Relaxed),
        )?;
        counter(
            &mut e,
            "shardnet_requests_busy",
            "Inbound requests refused as busy (queue or response budget full).",
            None,
            s.requests_busy,
        )?;
        counter(
            &mut e,
            "shardnet_gossip_dropped",
            "Gossip messages dropped by the event loop under load.",
            None,
            s.gossip_dropped,
        )?;
        counter(
            &mut e,
            "shardnet_event_loop_dropped",
            "Commands to the swarm event loop dropped (queue full).",
            None,
            s.commands_dropped,
        )?;
        gauge(
            &mut e,
            "shardnet_health_score",
            "The node's health verdict, 0 to 1 (`node health`).",
            None,
            s.health_score,
        )?;
        gauge(
            &mut e,
            "shardnet_uptime",
            "Time since the node started.",
            secs,
            s.uptime_secs as f64,
        )?;
        Ok(())
    }
}
