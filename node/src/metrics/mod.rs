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

pub use crate::swarm::{Labels, SwarmMetrics};

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
