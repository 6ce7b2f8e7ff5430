//! Load and capacity: the load report `rebalance plan` shows, and shedding
//! (a node over its capacity narrows its storage radius).

use super::local::Local;
use super::PeerLoad;
use crate::distribute::Net;
use crate::membership::{PeerInfo, PeerState};
use libp2p::PeerId;
use shardnet_protocol::placement::{self};
use shardnet_protocol::ShardId;
use std::sync::atomic::Ordering;
use tracing::info;

/// A live peer's used share of its capacity (`None` for a peer not live or
/// without capacity): the load report's figure, and the status page's
/// imbalance.
pub fn utilisation(p: &PeerInfo) -> Option<f64> {
    (p.state == PeerState::Live && p.heartbeat.capacity > 0)
        .then(|| p.heartbeat.used as f64 / p.heartbeat.capacity as f64)
}

/// Every live peer's load against the swarm's mean, and the share of known
/// peers not live.
pub fn load_report(net: &Net) -> (Vec<PeerLoad>, f64) {
    let peers = net.view.list();
    let known = peers.len().max(1);
    let not_live = peers.iter().filter(|p| p.state != PeerState::Live).count();
    let live: Vec<(&PeerInfo, f64)> = peers
        .iter()
        .filter_map(|p| utilisation(p).map(|u| (p, u)))
        .collect();
    let mean = live.iter().map(|(_, u)| u).sum::<f64>() / live.len().max(1) as f64;
    let load = live
        .iter()
        .map(|&(p, u)| {
            let dev = if mean > 0.0 {
                (u - mean) / mean * 100.0
            } else {
                0.0
            };
            PeerLoad {
                peer: p.peer_id.clone(),
                zone: p.heartbeat.zone.clone(),
                used: p.heartbeat.used,
                capacity: p.heartbeat.capacity,
                deviation_pct: dev,
                level: if dev > 35.0 {
                    "act"
                } else if dev > 20.0 {
                    "warn"
                } else {
                    "ok"
                }
                .into(),
            }
        })
        .collect();
    (load, not_live as f64 / known as f64)
}

/// Below this share of its capacity a shedding node drops its radius again.
const UNSHED_BELOW: f64 = 0.5;
/// A node over its capacity sheds down to this share of it.
const SHED_TO: f64 = 0.9;

/// Capacity: a node holding more than its capacity (say, the operator lowered
/// it) narrows its storage radius so that it keeps its closest shards, at
/// most [`SHED_TO`] of its capacity. The radius goes out with the next
/// heartbeat; from then every node's responsible sets leave this node out for
/// the shards beyond it, the usual handoff copies them to peers with room, and
/// this node drops each copy once all wanted copies are confirmed elsewhere.
/// The radius only narrows while the node is above [`UNSHED_BELOW`] of its
/// capacity: widening it as soon as there is room would pull the shards back
/// and flap. It is persisted (`shed.json`) for the same reason.
pub(super) fn shed(net: &Net, local: &PeerId, shards: &[Local]) {
    let Some(me) = net.view.local_heartbeat() else {
        return;
    };
    let capacity = me.capacity;
    let used = net.usage.used.load(Ordering::Relaxed);
    let mut radius = net.usage.radius.lock().unwrap_or_else(|p| p.into_inner());
    if capacity == 0 {
        return;
    }
    if used > capacity {
        let held: Vec<(ShardId, u64)> = shards
            .iter()
            .filter(|l| l.quarantined_at.is_none())
            .map(|l| (l.id, l.size))
            .collect();
        let keep = (capacity as f64 * SHED_TO) as u64;
        let own = placement::VirtualKeys::of(&placement::peer_key(&local.to_bytes()));
        if let Some(r) = placement::shed_radius(&own, &held, keep) {
            let narrower = radius.map_or(r, |cur| cur.min(r));
            if *radius != Some(narrower) {
                info!(
                    used,
                    capacity, "over capacity: shedding the shards farthest from this node"
                );
                *radius = Some(narrower);
            }
        }
    } else if radius.is_some() && (used as f64) < capacity as f64 * UNSHED_BELOW {
        info!(used, capacity, "well below capacity: taking shards again");
        *radius = None;
    }
}
