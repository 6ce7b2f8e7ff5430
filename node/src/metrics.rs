//! Prometheus metrics (`--metrics-listen`, off by default): what an operator
//! scrapes, graphs and alerts on (contrib/prometheus, contrib/grafana).
//!
//! Two sources. libp2p's own recorders (`libp2p-metrics`: connections,
//! Kademlia, gossipsub, identify, ping) and this crate's request-response
//! counters are fed by the swarm event loop as events happen. Everything
//! else is read when Prometheus scrapes: the store's census, the repair
//! queue and its last scan, scrub, audits, prune jobs and alerts, through a
//! [`Collector`] whose snapshot the scrape handler fills on a blocking
//! thread first. Nothing secret is exported: owners are counted, never named.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes backed up and restored through this node since start.
pub static BACKUP_BYTES: AtomicU64 = AtomicU64::new(0);
pub static RESTORE_BYTES: AtomicU64 = AtomicU64::new(0);

/// The swarm's metrics, recorded by the event loop.
pub struct SwarmMetrics {
    pub libp2p: libp2p::metrics::Metrics,
    /// Request-response messages by direction and outcome.
    pub requests: Family<Vec<(String, String)>, Counter>,
}

impl std::fmt::Debug for SwarmMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwarmMetrics")
    }
}

impl SwarmMetrics {
    /// Records a swarm event in libp2p's recorders (connections, and the
    /// protocols' own events), and request-response outcomes in ours.
    pub(crate) fn record(
        &self,
        ev: &libp2p::swarm::SwarmEvent<crate::swarm::behaviour::BehaviourEvent>,
    ) {
        use crate::swarm::behaviour::BehaviourEvent as B;
        use libp2p::metrics::Recorder;
        use libp2p::request_response::{Event, Message};
        self.libp2p.record(ev);
        let libp2p::swarm::SwarmEvent::Behaviour(b) = ev else {
            return;
        };
        match b {
            B::Kad(e) => self.libp2p.record(e),
            B::Gossipsub(e) => self.libp2p.record(e),
            B::Identify(e) => self.libp2p.record(e),
            B::Ping(e) => self.libp2p.record(e),
            B::Shard(Event::Message {
                message: Message::Request { .. },
                ..
            }) => self.request("inbound", "received"),
            B::Shard(Event::Message {
                message: Message::Response { .. },
                ..
            }) => self.request("outbound", "answered"),
            B::Shard(Event::OutboundFailure { .. }) => self.request("outbound", "failed"),
            B::Shard(Event::InboundFailure { .. }) => self.request("inbound", "failed"),
            B::Shard(Event::ResponseSent { .. }) => self.request("inbound", "answered"),
            _ => {}
        }
    }

    /// Counts one request-response message: `direction` is inbound or
    /// outbound, `outcome` ok or a failure's kind.
    pub fn request(&self, direction: &str, outcome: &str) {
        self.requests
            .get_or_create(&vec![
                ("direction".to_string(), direction.to_string()),
                ("outcome".to_string(), outcome.to_string()),
            ])
            .inc();
    }
}

/// What the node knows at a scrape.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub capacity: u64,
    pub used: u64,
    pub disk_used: u64,
    pub disk_total: u64,
    /// (state, tier, shards, bytes) of the local store.
    pub stored: Vec<(String, String, u64, u64)>,
    pub owners: u64,
    pub peers_known: u64,
    pub peers_live: u64,
    pub peers_connected: u64,
    pub peers_isolated: u64,
    pub repair_queue: u64,
    pub repair_queue_bytes: u64,
    pub repair_in_flight: u64,
    pub repair_eta_secs: f64,
    pub repair_paused: bool,
    pub transfers_done: u64,
    pub transfers_failed: u64,
    pub bytes_moved: u64,
    pub redundant_removed: u64,
    pub below_target: u64,
    pub blocked: u64,
    /// (proven copies, shards) from the last repair scan.
    pub coverage: Vec<(u64, u64)>,
    pub churn: f64,
    pub load_imbalance: f64,
    pub scrub_progress: f64,
    pub scrub_passes: u64,
    pub scrub_bytes_checked: u64,
    pub scrub_shards_checked: u64,
    pub scrub_corruptions: u64,
    pub scrub_last_pass_at: u64,
    pub audits_passed: u64,
    pub audits_failed: u64,
    pub audits_timeouts: u64,
    /// (state, jobs).
    pub prune_jobs: Vec<(String, u64)>,
    pub prune_purged_bytes: u64,
    pub alerts: u64,
    pub requests_busy: u64,
    pub gossip_dropped: u64,
    pub commands_dropped: u64,
    pub health_score: f64,
    pub uptime_secs: u64,
}

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

/// The registry a node serves, with its swarm metrics (to hand to the event
/// loop) and its collector (to fill before each scrape).
pub struct Metrics {
    pub registry: Registry,
    pub swarm: Arc<SwarmMetrics>,
    pub node: Arc<NodeCollector>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let libp2p = libp2p::metrics::Metrics::new(&mut registry);
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        registry.register(
            "shardnet_requests",
            "Request-response messages (shard transfers, proofs, leases) by direction and outcome",
            requests.clone(),
        );
        let node = Arc::new(NodeCollector::default());
        registry.register_collector(Box::new(node.clone()));
        Metrics {
            registry,
            swarm: Arc::new(SwarmMetrics { libp2p, requests }),
            node,
        }
    }

    /// The Prometheus text exposition of everything registered.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    //! The shipped alert rules and dashboard name only metrics a node
    //! exports, and are well formed (CI also runs `promtool check rules`
    //! when it can install it: scripts/check-contrib.sh).
    use super::*;
    use serde::Deserialize;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RuleFile {
        groups: Vec<Group>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Group {
        name: String,
        rules: Vec<Rule>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        alert: String,
        expr: String,
        #[serde(rename = "for")]
        hold: Option<String>,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    }

    fn contrib(path: &str) -> String {
        let p = format!("{}/../contrib/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// Metric names in a PromQL expression (ours and libp2p's).
    pub(crate) fn names(expr: &str) -> BTreeSet<String> {
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|t| t.starts_with("shardnet_") || t.starts_with("libp2p_"))
            .map(str::to_string)
            .collect()
    }

    /// Whether a scrape can show `name`: ours always are; libp2p's label
    /// families only once an event was recorded, so here only their
    /// recorders' prefixes are checked (tests/e2e_metrics.rs checks every
    /// name against a live swarm's scrape).
    fn known(have: &BTreeSet<String>, name: &str) -> bool {
        have.contains(name)
            || [
                "libp2p_swarm_",
                "libp2p_kad_",
                "libp2p_gossipsub_",
                "libp2p_identify_",
                "libp2p_ping_",
            ]
            .iter()
            .any(|p| name.starts_with(p))
    }

    fn balanced(expr: &str) -> bool {
        let mut depth = Vec::new();
        for c in expr.chars() {
            match c {
                '(' | '[' | '{' => depth.push(c),
                ')' | ']' | '}' => {
                    let open = depth.pop();
                    let want = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    if open != Some(want) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        depth.is_empty()
    }

    /// Every name a scrape can show: sample names, and each family's name
    /// with the suffixes its type adds (families with no sample yet too).
    fn exported() -> BTreeSet<String> {
        let m = Metrics::new();
        *m.node.snapshot.lock().unwrap() = Snapshot {
            stored: vec![("healthy".into(), "silver".into(), 3, 3 << 20)],
            coverage: vec![(3, 10)],
            prune_jobs: vec![("purged".into(), 1)],
            ..Default::default()
        };
        m.swarm.request("inbound", "received");
        let text = m.encode().unwrap();
        let mut out = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let base = rest.split(' ').next().unwrap();
                for suffix in [
                    "", "_total", "_bucket", "_sum", "_count", "_created", "_info",
                ] {
                    out.insert(format!("{base}{suffix}"));
                }
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                out.insert(name.to_string());
            }
        }
        out
    }

    #[test]
    fn alert_rules_are_well_formed_and_name_exported_metrics() {
        let file: RuleFile = yaml_serde::from_str(&contrib("prometheus/alerts.yml")).unwrap();
        let have = exported();
        let mut rules = 0;
        for g in &file.groups {
            assert!(!g.name.is_empty());
            for r in &g.rules {
                rules += 1;
                assert!(r.alert.starts_with("Shardnet"), "{}", r.alert);
                assert!(balanced(&r.expr), "{}: unbalanced {}", r.alert, r.expr);
                let sev = r.labels.get("severity").map(String::as_str);
                assert!(matches!(sev, Some("warning" | "critical")), "{}", r.alert);
                assert!(r.annotations.contains_key("summary"), "{}", r.alert);
                if let Some(d) = &r.hold {
                    assert!(humantime::parse_duration(d).is_ok(), "{}: for {d}", r.alert);
                }
                let used = names(&r.expr);
                assert!(!used.is_empty(), "{}", r.alert);
                for n in used {
                    assert!(known(&have, &n), "{}: {n} is not exported", r.alert);
                }
            }
        }
        assert!(rules >= 10);
    }

    #[test]
    fn the_dashboard_names_exported_metrics_only() {
        let d: serde_json::Value = serde_json::from_str(&contrib("grafana/shardnet.json")).unwrap();
        let have = exported();
        let panels = d["panels"].as_array().unwrap();
        assert!(panels.len() >= 15);
        for p in panels {
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{}", p["title"]);
            for t in targets {
                let e = t["expr"].as_str().unwrap();
                assert!(balanced(e), "{}: {e}", p["title"]);
                for n in names(e) {
                    assert!(known(&have, &n), "{}: {n} is not exported", p["title"]);
                }
            }
        }
        let var = d["templating"]["list"][0]["query"].as_str().unwrap();
        assert!(names(var).iter().all(|n| have.contains(n)), "{var}");
    }

    #[test]
    fn counters_and_units_follow_prometheus_conventions() {
        let have = exported();
        for n in [
            "shardnet_used_bytes",
            "shardnet_transfers_total",
            "shardnet_transferred_bytes_total",
            "shardnet_repair_eta_seconds",
            "shardnet_health_score",
            "shardnet_requests_total",
            "libp2p_swarm_dial_attempt_total",
        ] {
            assert!(have.contains(n), "{n} missing from {have:?}");
        }
    }
}
