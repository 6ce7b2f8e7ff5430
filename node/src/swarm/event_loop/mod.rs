//! [`EventLoop`]: the one task that owns the `Swarm`. It turns [`Command`]s into
//! swarm calls, resolves pending requests on responses and failures, and passes
//! inbound requests and gossip to the services as [`Event`]s.
//!
//! It never waits on anything a remote peer can fill: events go out with
//! `try_send`. Past half of [`EVENT_QUEUE`] gossip and pings are dropped (the
//! rest is kept for requests); with the queue full, or with more than
//! [`RESPONSE_BUDGET`] bytes of responses waiting for their requesters, an
//! inbound request is answered `Busy` right here. Each is counted
//! ([`Pressure`], in `node status`). A gossip burst or a flood of requests
//! whose answers are never read thus costs bounded memory and never stalls
//! the loop (which would stop heartbeats and make the swarm re-replicate
//! everything this node holds).

use super::behaviour::{Behaviour, BehaviourEvent};
use super::client::{Command, NetStatus, Pressure, Reply, TransferError};
use super::{EVENT_QUEUE, IDLE_SWEEP, IDLE_TIMEOUT, REQUEST_TIMEOUT, UNUSED_TIMEOUT};
use libp2p::request_response::{InboundRequestId, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, kad, PeerId, Swarm};
use shardnet_protocol::netzone;
use shardnet_protocol::wire::{Request, Response};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

mod addresses;
mod idle;
mod inbound;
mod shard;

pub use inbound::*;

/// What the swarm tells the services.
#[derive(Debug)]
pub enum Event {
    /// A peer asks something of this node; answer through `Client::respond`.
    InboundRequest {
        peer: PeerId,
        request: Request,
        channel: Reply,
    },
    /// A gossip message on `topic` from `source` (authenticated by gossipsub).
    Gossip {
        source: PeerId,
        topic: String,
        data: Vec<u8>,
    },
    /// A direct ping to `peer` succeeded.
    Pinged { peer: PeerId },
    /// A connection to `peer` is up, at `ip` (the address dialed, or the one
    /// it connected from): what this node observed, not what it was told.
    Connected { peer: PeerId, ip: std::net::IpAddr },
    /// This node's dial of `peer` failed at the transport (refused, reset,
    /// timed out, or another peer answered at its address): its own
    /// evidence that the peer may be gone. Dials this node declined to make
    /// (limits, no address) are not reported.
    Unreachable { peer: PeerId },
}

pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, TransferError>>>,
    /// Bytes of each response handed to libp2p and not yet sent.
    sending: HashMap<InboundRequestId, u64>,
    gossip_limit: crate::rate::PerPeer,
    pressure: Pressure,
    commands_dropped: Arc<AtomicU64>,
    /// Response bytes handed to libp2p and not yet sent (shared with
    /// `Client::responses_in_flight`, so that readers can refuse early).
    in_flight: Arc<AtomicU64>,
    /// The address each connected peer was observed at (one entry per
    /// connected peer: bounded by the connection limits).
    observed: HashMap<PeerId, std::net::IpAddr>,
    /// Each peer's requests, for closing idle connections (`idle`).
    activity: idle::Activity,
    metrics: Option<Arc<crate::swarm::SwarmMetrics>>,
    /// Why this node is dialling a peer: the kind of the request that asked
    /// for the connection (for the `shardnet::dials` debug log).
    dial_reason: HashMap<PeerId, &'static str>,
    /// Where to dial each peer, from the records membership verified.
    addresses: addresses::AddressBook,
    /// Shared with every `Client`: the peers connected now.
    connected: super::client::Connected,
}

/// Most dials with a recorded reason (one per peer being dialled).
const MAX_DIAL_REASONS: usize = 4096;

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        commands_dropped: Arc<AtomicU64>,
        in_flight: Arc<AtomicU64>,
        metrics: Option<Arc<crate::swarm::SwarmMetrics>>,
        connected: super::client::Connected,
    ) -> Self {
        EventLoop {
            swarm,
            commands,
            events,
            pending: HashMap::new(),
            sending: HashMap::new(),
            gossip_limit: inbound::gossip_limiter(),
            pressure: Pressure::default(),
            commands_dropped,
            in_flight,
            observed: HashMap::new(),
            activity: idle::Activity::default(),
            metrics,
            dial_reason: HashMap::new(),
            addresses: addresses::AddressBook::default(),
            connected,
        }
    }

    /// Runs until `shutdown` resolves or every `Client` is dropped.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut sweep = tokio::time::interval(IDLE_SWEEP);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = sweep.tick() => self.close_idle(),
                cmd = self.commands.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => break,
                },
                ev = futures::StreamExt::select_next_some(&mut self.swarm) => self.swarm_event(ev),
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
                self.activity.started(peer, Instant::now());
                // Kept only while the dial log is on (it is for diagnosis).
                if tracing::enabled!(target: "shardnet::dials", tracing::Level::DEBUG)
                    && !self.swarm.is_connected(&peer)
                    && self.dial_reason.len() < MAX_DIAL_REASONS
                {
                    self.dial_reason.insert(peer, request.kind());
                }
                let addrs = if self.swarm.is_connected(&peer) {
                    Vec::new()
                } else {
                    self.addresses.of(&peer)
                };
                let id = self
                    .swarm
                    .behaviour_mut()
                    .shard
                    .send_request_with_addresses(&peer, request, addrs);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                let bytes = response_bytes(&response);
                if self
                    .swarm
                    .behaviour_mut()
                    .shard
                    .send_response(channel.channel, response)
                    .is_err()
                {
                    debug!("response not sent: the requester's stream is gone");
                } else {
                    self.sending.insert(channel.id, bytes);
                    self.in_flight.fetch_add(bytes, Ordering::Relaxed);
                }
            }
            Command::Publish { topic, data, sent } => {
                let t = gossipsub::IdentTopic::new(topic);
                let r = self.swarm.behaviour_mut().gossipsub.publish(t, data);
                if let Err(e) = &r {
                    // NoPeersSubscribedToTopic is normal for a lone node.
                    debug!(%topic, "gossip publish: {e}");
                }
                if let Some(s) = sent {
                    let _ = s.send(r.is_ok());
                }
            }
            Command::AddAddress { peer, addr } => {
                self.addresses.add(peer, addr.clone());
                self.swarm.add_peer_address(peer, addr.clone());
                self.swarm.behaviour_mut().kad.add_address(&peer, addr);
            }
            Command::Disconnect { peer } => {
                if self.swarm.disconnect_peer_id(peer).is_ok() {
                    debug!(%peer, "closed the connections of a peer judged down");
                }
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
                    pressure: Pressure {
                        commands_dropped: self.commands_dropped.load(Ordering::Relaxed),
                        response_bytes_in_flight: self.in_flight.load(Ordering::Relaxed),
                        ..self.pressure
                    },
                });
            }
        }
    }

    /// Passes gossip or a ping on, unless the queue is half full.
    fn emit(&mut self, ev: Event) {
        if self.events.capacity() < EVENT_QUEUE / 2 {
            self.pressure.gossip_dropped += 1;
            return;
        }
        match self.events.try_send(ev) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.pressure.gossip_dropped += 1,
            Err(TrySendError::Closed(_)) => debug!("event dropped: services stopped"),
        }
    }

    /// Closes the connections of peers idle for [`IDLE_TIMEOUT`] outside the
    /// gossipsub mesh (see `idle` for why libp2p does not).
    fn close_idle(&mut self) {
        let connected: HashSet<PeerId> = self.swarm.connected_peers().copied().collect();
        let mesh: HashSet<PeerId> = self
            .swarm
            .behaviour()
            .gossipsub
            .all_mesh_peers()
            .copied()
            .collect();
        let stuck = REQUEST_TIMEOUT * 2;
        let idle = self.activity.sweep(
            Instant::now(),
            IDLE_TIMEOUT,
            UNUSED_TIMEOUT,
            stuck,
            &connected,
            &mesh,
        );
        if !idle.is_empty() {
            debug!(
                closing = idle.len(),
                of = connected.len(),
                "idle connections"
            );
        }
        for peer in idle {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        if let Some(m) = &self.metrics {
            m.record(&ev);
        }
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                // Which work opens connections (`libp2p`: Kademlia's
                // lookups): `RUST_LOG=shardnet::dials=debug`. Any connection
                // ends the wait, so no entry outlives its dial.
                let why = self.dial_reason.remove(&peer_id).unwrap_or("libp2p");
                if endpoint.is_dialer() {
                    debug!(target: "shardnet::dials", peer = %peer_id, why, "dialled");
                }
                self.activity.connected(peer_id, Instant::now());
                self.connected.insert(peer_id);
                if let Some(ip) = ip_of(endpoint.get_remote_address()) {
                    self.observed.insert(peer_id, ip);
                    self.emit(Event::Connected { peer: peer_id, ip });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.observed.remove(&peer_id);
                self.connected.remove(&peer_id);
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if let Some(p) = peer_id {
                    self.dial_reason.remove(&p);
                    if matches!(
                        error,
                        libp2p::swarm::DialError::Transport(_)
                            | libp2p::swarm::DialError::WrongPeerId { .. }
                    ) {
                        self.emit(Event::Unreachable { peer: p });
                    }
                }
                debug!(peer = ?peer_id, "dial failed: {error}");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let seen = self.observed.get(&peer_id).copied();
                for addr in info.listen_addrs {
                    let allowed =
                        ip_of(&addr).is_none_or(|ip| netzone::announced_addr_allowed(seen, ip));
                    if is_usable(&addr) && allowed {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                message,
                message_id,
                propagation_source,
            })) => {
                // Accepted (and so forwarded) only within its publisher's
                // rate; a flood stops at the first honest hop.
                let verdict = match message.source {
                    // Decoded and checked before anyone else gets it: a
                    // malformed message is rejected, which costs its
                    // forwarder gossip score (graylisted after a few).
                    Some(source)
                        if !gossip_is_valid(message.topic.as_str(), &message.data, &source) =>
                    {
                        self.pressure.gossip_invalid += 1;
                        gossipsub::MessageAcceptance::Reject
                    }
                    Some(source) if self.gossip_limit.allow(source, Instant::now()) => {
                        let topic = message.topic.into_string();
                        self.emit(Event::Gossip {
                            source,
                            topic,
                            data: message.data,
                        });
                        gossipsub::MessageAcceptance::Accept
                    }
                    Some(_) => {
                        self.pressure.gossip_over_rate += 1;
                        gossipsub::MessageAcceptance::Ignore
                    }
                    None => gossipsub::MessageAcceptance::Reject,
                };
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, verdict);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Shard(ev)) => self.shard_event(ev),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p::ping::Event {
                peer,
                result: Ok(_),
                ..
            })) => {
                self.emit(Event::Pinged { peer });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer, ..
            })) => {
                debug!(%peer, "kad routing updated");
            }
            other => debug!("swarm event: {other:?}"),
        }
    }
}
