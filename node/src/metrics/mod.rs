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

mod collector;

pub use collector::{NodeCollector, Snapshot};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Bytes backed up and restored through this node since start.
pub static BACKUP_BYTES: AtomicU64 = AtomicU64::new(0);
pub static RESTORE_BYTES: AtomicU64 = AtomicU64::new(0);

/// A request counter's labels: direction and outcome.
pub type Labels = [(&'static str, &'static str); 2];

/// The swarm's metrics, recorded by the event loop.
pub struct SwarmMetrics {
    pub libp2p: libp2p::metrics::Metrics,
    /// Request-response messages by direction and outcome (static labels:
    /// nothing is allocated per message).
    pub requests: Family<Labels, Counter>,
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
    pub fn request(&self, direction: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&[("direction", direction), ("outcome", outcome)])
            .inc();
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
        let requests = Family::<Labels, Counter>::default();
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
mod tests;
