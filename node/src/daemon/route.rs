//! The daemon's event router: membership gossip, pings and `Hello` probes
//! go to the view (kicking a repair scan when placement changes), everything
//! else to the storage service. It never waits on a full channel: the event loop behind
//! it must keep running under any load a peer can cause.

use crate::membership::{Announcement, View};
use crate::repair::Repair;
use crate::swarm::{Client, Event, MEMBERSHIP_TOPIC, REBALANCE_TOPIC};
use libp2p::PeerId;
use shardnet_protocol::wire::{Reject, Request, Response};
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
        // A request is news of its sender as good as a probe's answer (the
        // connection is authenticated: nobody else can make it), so two
        // ring neighbours do not both probe each other.
        if let Event::InboundRequest { peer, .. } = &ev {
            view.pinged(peer);
        }
        match ev {
            Event::Gossip {
                source,
                topic,
                data,
            } if topic == MEMBERSHIP_TOPIC => match Announcement::decode(&data) {
                Ok(Announcement::Heartbeat(rec)) => {
                    use super::members::{accept, Via};
                    accept(&view, &client, &repair, rec, Via::Member(source))
                }
                Ok(Announcement::Leave) => {
                    info!(peer = %source, "peer is stopping");
                    view.left(&source);
                }
                // A hint, never a shortcut past `down_after`: any peer may
                // say it, about anyone. A node connected to the peer checks
                // it itself (a probe on the open connection), and a report
                // about itself is refuted by its answers to those probes.
                // The others leave the peer to its own window and to their
                // audits: a check that had to dial cost every node of the
                // swarm a connection per report, and under load, when
                // probes time out and reports multiply, that storm took a
                // 200-node process's descriptors (docs/membership.md).
                Ok(Announcement::Down(bytes)) => {
                    if let Ok(peer) = PeerId::from_bytes(&bytes) {
                        debug!(%peer, reporter = %source, "peer reported silent (a hint)");
                        if peer == view.local() {
                            view.suspected();
                        } else if client.is_connected(&peer) {
                            view.want_check(&peer);
                        }
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
            Event::Unreachable { peer } => view.unreachable(&peer),
            Event::Connected { peer, ip } => {
                // A stranger connected (a joiner probing the members it
                // pulled), or a peer held down (a healed partition): ask it
                // for its heartbeat, so this node learns it from itself
                // rather than wait for its gossip.
                if view.wants_hello_from(&peer) {
                    view.want_hello(peer);
                }
                if view.observed(peer, ip) {
                    info!(%peer, %ip, "peer observed at a new network prefix");
                    repair.kick();
                }
            }
            // A probe is answered here, not behind the storage queue: the
            // answer is a record in memory, and a node busy writing a backup
            // must not look silent to its watchers (535 false silence
            // reports in a live-50 run while `Hello` waited behind stores).
            Event::InboundRequest {
                request: Request::Hello,
                channel,
                ..
            } => {
                let answer = match view.own_record() {
                    Some(rec) => Response::Hello(rec),
                    None => Response::Rejected(Reject::Busy),
                };
                client.respond(channel, answer).await;
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
