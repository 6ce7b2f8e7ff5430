//! [`EventLoop`]: the one task that owns the `Swarm`. It turns [`Command`]s into
//! swarm calls, resolves pending requests on responses and failures, and passes
//! inbound requests and gossip to the services as [`Event`]s.

use super::behaviour::{Behaviour, BehaviourEvent};
use super::client::{Command, NetStatus, TransferError};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, kad, Multiaddr, PeerId, Swarm};
use shardnet_protocol::wire::{Request, Response};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// What the swarm tells the services.
#[derive(Debug)]
pub enum Event {
    /// A peer asks something of this node; answer through `Client::respond`.
    InboundRequest {
        peer: PeerId,
        request: Request,
        channel: ResponseChannel<Response>,
    },
    /// A gossip message on `topic` from `source` (authenticated by gossipsub).
    Gossip {
        source: PeerId,
        topic: String,
        data: Vec<u8>,
    },
    /// A direct ping to `peer` succeeded.
    Pinged { peer: PeerId },
}

pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, TransferError>>>,
}

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        EventLoop {
            swarm,
            commands,
            events,
            pending: HashMap::new(),
        }
    }

    /// Runs until `shutdown` resolves or every `Client` is dropped.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut bootstrap = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = bootstrap.tick() => {
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
                cmd = self.commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                ev = futures::StreamExt::select_next_some(&mut self.swarm) => self.swarm_event(ev).await,
            }
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(TransferError::Shutdown));
        }
        info!("swarm event loop stopped");
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .shard
                    .send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .shard
                    .send_response(channel, response)
                    .is_err()
                {
                    debug!("response not sent: the requester's stream is gone");
                }
            }
            Command::Publish { topic, data } => {
                let t = gossipsub::IdentTopic::new(topic);
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(t, data) {
                    // NoPeersSubscribedToTopic is normal for a lone node.
                    debug!(%topic, "gossip publish: {e}");
                }
            }
            Command::AddAddress { peer, addr } => {
                self.swarm.add_peer_address(peer, addr.clone());
                self.swarm.behaviour_mut().kad.add_address(&peer, addr);
            }
            Command::Status { reply } => {
                let _ = reply.send(NetStatus {
                    peer_id: self.swarm.local_peer_id().to_string(),
                    listen: self.swarm.listeners().map(|a| a.to_string()).collect(),
                    connected: self
                        .swarm
                        .connected_peers()
                        .map(|p| p.to_string())
                        .collect(),
                });
            }
        }
    }

    async fn emit(events: &mpsc::Sender<Event>, ev: Event) {
        if events.send(ev).await.is_err() {
            debug!("event dropped: services stopped");
        }
    }

    async fn swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(peer = ?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for addr in info.listen_addrs {
                    if is_usable(&addr) {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                message,
                ..
            })) => match message.source {
                Some(source) => {
                    let topic = message.topic.into_string();
                    Self::emit(
                        &self.events,
                        Event::Gossip {
                            source,
                            topic,
                            data: message.data,
                        },
                    )
                    .await;
                }
                None => debug!("gossip without a source ignored"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Shard(ev)) => self.shard_event(ev).await,
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p::ping::Event {
                peer,
                result: Ok(_),
                ..
            })) => {
                Self::emit(&self.events, Event::Pinged { peer }).await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, ..
            })) => {
                debug!(%peer, "kad routing updated");
            }
            other => debug!("swarm event: {other:?}"),
        }
    }

    async fn shard_event(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    Self::emit(
                        &self.events,
                        Event::InboundRequest {
                            peer,
                            request,
                            channel,
                        },
                    )
                    .await;
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => match self.pending.remove(&request_id) {
                    Some(reply) => {
                        let _ = reply.send(Ok(response));
                    }
                    None => debug!(%peer, "late response for a request nobody waits for"),
                },
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(TransferError::Failed {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            // Malformed requests never get here: libp2p drops a failed
            // `read_request` silently, so the codec logs those itself.
            request_response::Event::InboundFailure { peer, error, .. } => {
                warn!(%peer, "inbound shard request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// Loopback and routable addresses are usable; unspecified (0.0.0.0) are not.
fn is_usable(addr: &Multiaddr) -> bool {
    !addr
        .iter()
        .any(|p| matches!(p, libp2p::multiaddr::Protocol::Ip4(ip) if ip.is_unspecified()))
}
