//! The daemon's event router: membership gossip and pings go to the view
//! (kicking a repair scan when placement changes), everything else to the
//! storage service. It never waits on a full channel: the event loop behind
//! it must keep running under any load a peer can cause.

use crate::membership::{Announcement, View};
use crate::repair::Repair;
use crate::swarm::{Client, Event, MEMBERSHIP_TOPIC, REBALANCE_TOPIC};
use libp2p::PeerId;
use shardnet_protocol::netzone;
use shardnet_protocol::wire::{Reject, Response};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, info, warn};

/// Routes swarm events: membership gossip and pings to the view (kicking a
/// repair scan when placement changes), everything else to storage.
pub(super) async fn route(
    mut events: mpsc::Receiver<Event>,
    view: Arc<View>,
    client: Client,
    repair: Arc<Repair>,
    storage: mpsc::Sender<Event>,
) {
    while let Some(ev) = events.recv().await {
        match ev {
            Event::Gossip {
                source,
                topic,
                data,
            } if topic == MEMBERSHIP_TOPIC => match Announcement::decode(&data) {
                Ok(Announcement::Heartbeat(hb)) => {
                    if let Err(e) = hb.check() {
                        debug!(peer = %source, "heartbeat ignored: {e}");
                        continue;
                    }
                    if !view.admits(&source) {
                        debug!(peer = %source, "heartbeat ignored: the peer id lacks admission work");
                        continue;
                    }
                    // A peer seen at a public address may not point this
                    // node at loopback or private ones.
                    let seen = view.observed_ip(&source);
                    let addrs: Vec<libp2p::Multiaddr> = hb
                        .addrs
                        .iter()
                        .filter_map(|a| a.parse::<libp2p::Multiaddr>().ok())
                        .filter(|addr| {
                            crate::swarm::ip_of(addr)
                                .is_none_or(|ip| netzone::announced_addr_allowed(seen, ip))
                        })
                        .collect();
                    let new_addrs = view.announces_new_addrs(&source, &hb.addrs);
                    let joined = view.heard(source, hb);
                    if joined {
                        info!(peer = %source, "peer joined or changed");
                        repair.kick();
                    }
                    // Addresses go to the swarm when they change or the
                    // peer (re)joins, not with every heartbeat. Never
                    // waits: the event loop may be busy, and this task must
                    // keep draining its queue.
                    if (new_addrs || joined)
                        && !addrs
                            .into_iter()
                            .all(|addr| client.try_add_address(source, addr))
                    {
                        view.forget_addrs(&source);
                    }
                }
                Ok(Announcement::Leave) => {
                    info!(peer = %source, "peer is stopping");
                    view.left(&source);
                }
                // A hint, never a shortcut past `down_after`: any peer may
                // say it, about anyone. Each node decides on its own clock.
                Ok(Announcement::Down(bytes)) => {
                    if let Ok(peer) = PeerId::from_bytes(&bytes) {
                        debug!(%peer, reporter = %source, "peer reported down (a hint; down here after down_after)");
                    }
                }
                Err(e) => warn!(peer = %source, "bad membership message: {e}"),
            },
            Event::Gossip {
                source,
                topic,
                data,
            } if topic == REBALANCE_TOPIC => {
                debug!(peer = %source, "rebalance: {}", String::from_utf8_lossy(&data[..data.len().min(200)]));
            }
            Event::Gossip { .. } => {}
            Event::Pinged { peer } => view.pinged(&peer),
            Event::Connected { peer, ip } => {
                if view.observed(peer, ip) {
                    info!(%peer, %ip, "peer observed at a new network prefix");
                    repair.kick();
                }
            }
            other => match storage.try_send(other) {
                Ok(()) => {}
                // Storage is behind: the requester hears `Busy` and asks
                // again later; gossip keeps flowing meanwhile.
                Err(TrySendError::Full(Event::InboundRequest { channel, .. })) => {
                    client
                        .respond(channel, Response::Rejected(Reject::Busy))
                        .await;
                }
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Closed(_)) => break,
            },
        }
    }
}
