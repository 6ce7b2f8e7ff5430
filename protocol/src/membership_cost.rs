//! What membership costs each node, per second, under two designs: the
//! full view of today (every node gossips a heartbeat every period and
//! every other node hears it) and the design of `docs/membership.md`
//! (a SWIM-style failure detector that probes one peer per period and
//! spreads only changes, piggybacked on its probes, with every change a
//! node would act on checked by the node itself).
//!
//! Pure formulas, so that the model (which counts the changes and checks a
//! scenario causes) and the live runs (which measure what one peer in the
//! view costs) project with the same arithmetic.

/// Goal of issue 14: membership bytes per node per second at 10,000 nodes.
pub const GOAL_BYTES_PER_NODE_SEC: f64 = 10_000.0;

/// What one peer in the full view costs a node per heartbeat period, bytes
/// sent: measured on 100 live nodes in one process (95.1 KB/s per node with
/// a heartbeat every 4 s: 95,100 * 4 / 99), loopback counters, so every copy,
/// gossip control message and frame is in it (`live::traffic` in the
/// simulator; `docs/membership.md`).
pub const BYTES_PER_PEER_HEARTBEAT: f64 = 3_840.0;

/// Bytes each node sends per second when every node hears every other's
/// heartbeat once a period: `bytes_per_peer_heartbeat` is what one peer in
/// the view costs a node per period, measured on a live swarm (gossip
/// copies, control messages and framing included).
pub fn full_view(nodes: usize, heartbeat_secs: f64, bytes_per_peer_heartbeat: f64) -> f64 {
    bytes_per_peer_heartbeat * nodes.saturating_sub(1) as f64 / heartbeat_secs.max(1e-9)
}

/// The parameters of change-only membership: each node probes its ring
/// neighbours over connections it keeps open, and only changes are
/// gossiped (on the same gossipsub mesh as today's heartbeats, so one change
/// costs each node what one heartbeat costs it today).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dissemination {
    /// Each node sends one probe per period (to one of its ring
    /// neighbours in turn) and answers about one.
    pub period_secs: f64,
    /// Bytes on the wire of a probe or its answer over an open connection
    /// (TCP/IP, noise and yamux framing included).
    pub probe_bytes: f64,
    /// What one gossiped message costs each node (the live-measured
    /// [`BYTES_PER_PEER_HEARTBEAT`]: every copy, control message and frame).
    pub bytes_per_change: f64,
    /// Bytes of one direct check of a peer this node holds shards with,
    /// on a new connection (handshakes, identify, a ping): what a node
    /// spends before it acts on a change it was told about.
    pub check_bytes: f64,
}

impl Default for Dissemination {
    fn default() -> Self {
        Dissemination {
            period_secs: 1.0,
            // A libp2p ping over an open connection: 32 bytes of payload in
            // a yamux frame in a noise frame in a TCP segment, and its ack.
            probe_bytes: 150.0,
            bytes_per_change: BYTES_PER_PEER_HEARTBEAT,
            // TCP and noise handshakes, multistream, identify both ways, a
            // ping: a few kilobytes; 8 KiB is the bound used here.
            check_bytes: 8192.0,
        }
    }
}

/// What one node sends per second under [`Dissemination`].
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Cost {
    /// Probes and answers.
    pub probing: f64,
    /// Changes gossiped.
    pub changes: f64,
    /// Direct checks before acting on a change.
    pub checks: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.probing + self.changes + self.checks
    }
}

impl Dissemination {
    /// Per-node cost where `changes_per_sec` membership changes happen
    /// swarm-wide and each node makes `checks_per_node_sec` direct checks.
    /// The swarm's size enters only through its change rate.
    pub fn cost(&self, changes_per_sec: f64, checks_per_node_sec: f64) -> Cost {
        Cost {
            probing: 2.0 * self.probe_bytes / self.period_secs.max(1e-9),
            changes: changes_per_sec * self.bytes_per_change,
            checks: checks_per_node_sec * self.check_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_view_grows_with_the_view() {
        // 100 nodes, a heartbeat every 2 s, 600 bytes per peer per period.
        assert!((full_view(100, 2.0, 600.0) - 29_700.0).abs() < 1e-6);
        assert_eq!(full_view(1, 2.0, 600.0), 0.0);
    }

    #[test]
    fn a_change_costs_what_a_heartbeat_costs() {
        let d = Dissemination {
            bytes_per_change: 1000.0,
            ..Dissemination::default()
        };
        let c = d.cost(0.5, 0.01);
        assert!((c.probing - 300.0).abs() < 1e-9);
        assert!((c.changes - 500.0).abs() < 1e-9);
        assert!((c.checks - 81.92).abs() < 1e-9);
        assert!((c.total() - 881.92).abs() < 1e-9);
    }

    proptest! {
        /// Whatever a heartbeat costs, spreading only changes costs less
        /// than heartbeats once changes are rarer than heartbeats.
        #[test]
        fn changes_only_beats_heartbeats_when_changes_are_rarer(
            nodes in 100usize..1_000_000,
            per_node_day in 0.0f64..10.0,
            bytes in 100.0f64..10_000.0,
        ) {
            let d = Dissemination { bytes_per_change: bytes, check_bytes: 0.0, ..Dissemination::default() };
            let changes_per_sec = nodes as f64 * per_node_day / 86_400.0;
            let only = d.cost(changes_per_sec, 0.0).changes;
            prop_assert!(only < full_view(nodes, 2.0, bytes));
        }

        #[test]
        fn probing_does_not_grow_with_the_swarm(rate in 0.0f64..10.0) {
            let d = Dissemination::default();
            prop_assert_eq!(d.cost(rate, 0.0).probing, d.cost(rate * 2.0, 1.0).probing);
        }
    }
}
