//! What membership costs a live swarm: the bytes its nodes send each other
//! while no backup, repair or restore is running (heartbeats, gossip control,
//! identify, Kademlia, pings), and how many connections each node keeps.
//!
//! The bytes are read from the loopback interface's counters
//! (`/proc/net/dev`), so they are what crossed the wire, TCP/IP headers and
//! noise framing included, and nothing a node could forget to count. Every
//! live node listens on 127.0.0.1 and nothing else in a test run uses much
//! loopback, but any other loopback traffic of the machine during the window
//! is counted too: the figure is an upper bound.

use super::Driver;
use crate::report::MembershipTraffic;
use std::time::{Duration, Instant};

/// Bytes sent over the loopback interface since boot, if this is Linux.
fn loopback_tx_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/dev").ok()?;
    parse_tx_bytes(&text, "lo")
}

/// The transmit byte counter of `iface` in a `/proc/net/dev` listing (the
/// ninth number after the interface name).
fn parse_tx_bytes(text: &str, iface: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != iface {
            return None;
        }
        rest.split_whitespace().nth(8)?.parse().ok()
    })
}

impl Driver<'_> {
    /// Measures membership traffic over `window` of quiet: the driver does
    /// nothing meanwhile but wait. None where loopback counters are not
    /// readable (not Linux).
    pub(super) fn membership_traffic(
        &self,
        window: Duration,
        heartbeat: Duration,
    ) -> anyhow::Result<Option<MembershipTraffic>> {
        let nodes = self.up();
        let Some(before) = loopback_tx_bytes() else {
            return Ok(None);
        };
        let t = Instant::now();
        std::thread::sleep(window);
        let Some(after) = loopback_tx_bytes() else {
            return Ok(None);
        };
        let secs = t.elapsed().as_secs_f64();
        let mut connections = Vec::with_capacity(nodes.len());
        for &i in &nodes {
            if let Some(api) = self.nodes[i].api.as_ref() {
                let st: shardnet_node::api::NodeStatus = api.get("/v1/status")?;
                connections.push(st.connected_peers);
            }
        }
        let n = nodes.len().max(1);
        let bytes_per_node_sec = after.saturating_sub(before) as f64 / secs / n as f64;
        Ok(Some(MembershipTraffic {
            nodes: n,
            heartbeat_secs: heartbeat.as_secs_f64(),
            refresh_secs: super::REFRESH.as_secs_f64(),
            window_secs: secs,
            bytes_per_node_sec,
            digest_secs: super::DIGEST.as_secs_f64(),
            bytes_per_heartbeat_heard: shardnet_protocol::membership_cost::BYTES_PER_PEER_HEARTBEAT,
            connections_mean: connections.iter().sum::<usize>() as f64
                / connections.len().max(1) as f64,
            connections_max: connections.iter().copied().max().unwrap_or(0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_tx_bytes;

    #[test]
    fn reads_the_loopback_transmit_counter() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo: 123456     100    0    0    0     0          0         0   654321     100    0    0    0     0       0          0\n  \
eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        assert_eq!(parse_tx_bytes(text, "lo"), Some(654_321));
        assert_eq!(parse_tx_bytes(text, "eth0"), Some(9));
        assert_eq!(parse_tx_bytes(text, "wlan0"), None);
        assert_eq!(parse_tx_bytes("lo: 1 2", "lo"), None);
    }
}
