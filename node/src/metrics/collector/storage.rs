//! The store and the peers: capacity, use, local copies by state and tier,
//! and how many peers this node knows, sees live, is connected to, isolated.

use super::encode::{gauge, gauges};
use super::Snapshot;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

/// Capacity, use, local copies and the view of peers.
pub(super) fn store_and_peers(
    e: &mut DescriptorEncoder,
    s: &Snapshot,
) -> Result<(), std::fmt::Error> {
    let b = Some(&Unit::Bytes);
    gauge(
        e,
        "shardnet_capacity",
        "Bytes this node offers the swarm (--capacity).",
        b,
        s.capacity as f64,
    )?;
    gauge(
        e,
        "shardnet_used",
        "Bytes of shards this node holds.",
        b,
        s.used as f64,
    )?;
    gauge(
        e,
        "shardnet_disk_used",
        "Bytes used on the file system of the store.",
        b,
        s.disk_used as f64,
    )?;
    gauge(
        e,
        "shardnet_disk_size",
        "Bytes of the file system of the store.",
        b,
        s.disk_total as f64,
    )?;
    gauges(
        e,
        "shardnet_stored_shards",
        "Local copies by state (healthy, corrupted, quarantined) and tier.",
        None,
        s.stored
            .iter()
            .map(|(st, t, n, _)| (vec![("state", st.clone()), ("tier", t.clone())], *n as f64)),
    )?;
    gauges(
        e,
        "shardnet_stored",
        "Bytes of local copies by state and tier.",
        b,
        s.stored
            .iter()
            .map(|(st, t, _, n)| (vec![("state", st.clone()), ("tier", t.clone())], *n as f64)),
    )?;
    gauge(
        e,
        "shardnet_owners",
        "Owners with a lease on a local copy (a count; owners are not named).",
        None,
        s.owners as f64,
    )?;
    gauge(
        e,
        "shardnet_peers_known",
        "Peers in this node's membership view.",
        None,
        s.peers_known as f64,
    )?;
    gauge(
        e,
        "shardnet_peers_live",
        "Peers heard from within the liveness window.",
        None,
        s.peers_live as f64,
    )?;
    gauge(
        e,
        "shardnet_peers_connected",
        "Peers with an open connection.",
        None,
        s.peers_connected as f64,
    )?;
    gauge(
        e,
        "shardnet_peers_isolated",
        "Peers isolated for failed proofs or by the operator.",
        None,
        s.peers_isolated as f64,
    )?;
    Ok(())
}
