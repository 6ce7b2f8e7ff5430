//! The swarm's own metrics, recorded by the event loop as events happen:
//! libp2p's recorders and this crate's request-response counters. The
//! `metrics` module registers them with the rest and serves them.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

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
    pub(crate) fn record(&self, ev: &libp2p::swarm::SwarmEvent<super::behaviour::BehaviourEvent>) {
        use super::behaviour::BehaviourEvent as B;
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
