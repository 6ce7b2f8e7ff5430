//! The libp2p side of a node, in the Client + EventLoop shape: [`new`] builds
//! the swarm and returns a cloneable [`Client`] (commands over a bounded channel,
//! answers over oneshots), the [`EventLoop`] that owns the `Swarm` (spawn its
//! `run`), and a receiver of [`Event`]s for the services (inbound shard
//! requests, gossip). The event loop never touches the store.

pub(crate) mod behaviour;
mod client;
mod codec;
mod event_loop;
mod metrics;
mod paced_kad;
#[cfg(test)]
mod tests;

pub use client::{Client, NetStatus, Pressure, Reply, TransferError};
pub use event_loop::{ip_of, Event, EventLoop};
pub use metrics::{Labels, SwarmMetrics};

use behaviour::Behaviour;
use libp2p::core::Transport as _;
use libp2p::{
    connection_limits, gossipsub, identify, kad, memory_connection_limits, noise, ping,
    request_response, tcp, yamux, Multiaddr, StreamProtocol,
};
use shardnet_protocol::wire::{SHARD_PROTOCOL, SHARD_PROTOCOL_V1, SHARD_PROTOCOL_V2};
use std::time::Duration;
use tokio::sync::mpsc;

/// Kademlia protocol name: a private DHT, not the public IPFS one.
pub const KAD_PROTOCOL: &str = "/shardnet/kad/1";
pub const IDENTIFY_PROTOCOL: &str = "/shardnet/id/1";
/// Gossipsub topic of membership announcements. Its version is that of the
/// placement rules: nodes that compute responsible sets differently must not
/// share a view (version 2: virtual keys and capacity weights).
pub const MEMBERSHIP_TOPIC: &str = "shardnet/membership/3";
/// Gossipsub topic of rebalance and prune announcements.
pub const REBALANCE_TOPIC: &str = "shardnet/rebalance/1";
/// Every topic a node subscribes to.
const TOPICS: [&str; 2] = [MEMBERSHIP_TOPIC, REBALANCE_TOPIC];
/// A whole shard transfer must finish within this (8 MiB over a slow uplink).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// A connection with no request either way for this long closes, unless
/// the peer is in this node's gossipsub mesh (`event_loop::idle`, which does
/// this because gossipsub's streams keep libp2p's own idle timer from ever
/// firing). A minute spans the gaps inside a backup or a repair batch (a
/// handshake is a few milliseconds anyway), and keeps a node's connections
/// near its mesh, its ring neighbours and its current transfers instead of
/// everyone it has ever talked to.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection that never carried a request (either way) is closed this
/// long after it opened, outside the gossipsub mesh: Kademlia's lookups
/// dial many peers once and need them for seconds (see `event_loop::idle`).
pub const UNUSED_TIMEOUT: Duration = Duration::from_secs(10);
/// How often idle connections are looked for.
pub const IDLE_SWEEP: Duration = Duration::from_secs(10);
/// Kademlia refreshes its routing table this often (and when it learns its
/// first peers). Placement reads the membership view, not the DHT, so the
/// table only has to stay roughly right; each refresh's lookups dial peers
/// across the whole key space.
pub const KAD_REFRESH: Duration = Duration::from_secs(600);
/// Commands queued to the event loop before senders wait.
const COMMAND_QUEUE: usize = 256;
/// Events queued for the services; the event loop never waits for room: past
/// half full it drops gossip, when full it answers requests `Busy`.
pub const EVENT_QUEUE: usize = 256;
/// Response bytes that may wait for their requesters at once; past this,
/// inbound requests are answered `Busy` (a peer that asks for shards and
/// never reads them cannot pin more memory than this).
pub const RESPONSE_BUDGET: u64 = 256 << 20;
/// Streams one connection may have open at once (each may carry a frame of
/// up to 8 MiB).
pub const MAX_STREAMS: usize = 64;
/// Connections one peer may have at once (both sides dialling makes 2).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 3;
/// Inbound connections being set up at once.
pub const MAX_PENDING_INBOUND: u32 = 64;
/// Largest gossip message (heartbeats are a few hundred bytes).
pub const MAX_GOSSIP_LEN: usize = 64 << 10;

#[derive(Clone, Debug)]
pub struct SwarmConfig {
    pub keypair: libp2p::identity::Keypair,
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    /// Peers remembered from an earlier run: dialled too, failures ignored.
    pub known: Vec<Multiaddr>,
    /// A private swarm's pre-shared key (libp2p `pnet`): every connection is
    /// encrypted under it before anything else, so peers without it cannot
    /// even complete a handshake.
    pub psk: Option<libp2p::pnet::PreSharedKey>,
    /// Where the event loop records libp2p's and its own metrics.
    pub metrics: Option<std::sync::Arc<crate::swarm::SwarmMetrics>>,
    /// Resident memory of the process above which no new connections are
    /// taken (`config::DEFAULT_MAX_MEMORY`).
    pub max_memory: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("building the transport: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("cannot dial bootstrap peer {addr}: {reason}")]
    Dial { addr: Multiaddr, reason: String },
}

/// Builds the swarm, starts listening and dials the bootstrap peers.
pub fn new(cfg: SwarmConfig) -> Result<(Client, EventLoop, mpsc::Receiver<Event>), SwarmError> {
    let psk = cfg.psk;
    let max_memory = usize::try_from(cfg.max_memory).unwrap_or(usize::MAX);
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(cfg.keypair.clone())
        .with_tokio()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            let base = match psk {
                Some(psk) => either::Either::Left(tcp.and_then(move |socket, _| {
                    libp2p::pnet::PnetConfig::new(psk).handshake(socket)
                })),
                None => either::Either::Right(tcp),
            };
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                base.upgrade(libp2p::core::upgrade::Version::V1Lazy)
                    .authenticate(noise)
                    .multiplex(yamux::Config::default()),
            )
        })
        .map_err(|e| SwarmError::Transport(e.to_string()))?
        .with_behaviour(|key| {
            let peer = key.public().to_peer_id();
            let mut kad_cfg = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
            kad_cfg.set_query_timeout(Duration::from_secs(30));
            kad_cfg.set_periodic_bootstrap_interval(Some(KAD_REFRESH));
            let mut kad =
                kad::Behaviour::with_config(peer, kad::store::MemoryStore::new(peer), kad_cfg);
            // Local and private swarms have no confirmed external address, and
            // in automatic mode kad would stay a client and not answer queries.
            kad.set_mode(Some(kad::Mode::Server));
            let kad = paced_kad::PacedKad::new(kad);
            let gcfg = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(Duration::from_millis(700))
                // A smaller mesh than libp2p's 6 (5-12): gossipsub verifies
                // the signature of every copy it receives, before it drops
                // duplicates, and during a 200-node start that was 13% of
                // the process's CPU; mesh peers also stay connected past the
                // idle sweep. Four copies still reach a 200-node swarm in
                // about four hops, and gossip (IHAVE to 4 more) repairs gaps.
                .mesh_n(4)
                .mesh_n_low(3)
                .mesh_n_high(8)
                .mesh_outbound_min(2)
                .gossip_lazy(4)
                // Own messages go to the mesh, not to every connected peer:
                // each one reaches every subscriber through the mesh anyway,
                // and flooding cost a node one copy per connection.
                .flood_publish(false)
                .validation_mode(gossipsub::ValidationMode::Strict)
                // Nothing is forwarded before the event loop accepts it
                // (per-source rate limits: `event_loop::inbound::gossip_limiter`).
                .validate_messages()
                .max_transmit_size(MAX_GOSSIP_LEN)
                .build()
                .map_err(|e| e.to_string())?;
            let mut gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gcfg,
            )?;
            let (params, thresholds) = gossip_scoring();
            gossipsub.with_peer_score(params, thresholds)?;
            let identify = identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public())
                    .with_agent_version(format!("shardnet/{}", env!("CARGO_PKG_VERSION"))),
            );
            let rr_cfg = request_response::Config::default()
                .with_request_timeout(REQUEST_TIMEOUT)
                .with_max_concurrent_streams(MAX_STREAMS);
            let shard = request_response::Behaviour::with_codec(
                codec::ShardCodec,
                // The newest first: a peer of an earlier build negotiates
                // `/2` or `/1`.
                [SHARD_PROTOCOL, SHARD_PROTOCOL_V2, SHARD_PROTOCOL_V1].map(|p| {
                    (
                        StreamProtocol::new(p),
                        request_response::ProtocolSupport::Full,
                    )
                }),
                rr_cfg,
            );
            let limits = connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                    .with_max_pending_incoming(Some(MAX_PENDING_INBOUND)),
            );
            Ok(Behaviour {
                limits,
                memory: memory_connection_limits::Behaviour::with_max_bytes(max_memory),
                kad,
                gossipsub,
                identify,
                ping: ping::Behaviour::default(),
                shard,
            })
        })
        .map_err(|e| SwarmError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    for t in TOPICS {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&gossipsub::IdentTopic::new(t))
            .map_err(|e| SwarmError::Transport(e.to_string()))?;
    }
    for addr in &cfg.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| SwarmError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    for addr in &cfg.bootstrap {
        swarm.dial(addr.clone()).map_err(|e| SwarmError::Dial {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
    }
    for addr in &cfg.known {
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::debug!(%addr, "remembered peer not dialled: {e}");
        }
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
    let local = *swarm.local_peer_id();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let connected = client::Connected::default();
    Ok((
        Client::new(
            cmd_tx,
            local,
            dropped.clone(),
            in_flight.clone(),
            connected.clone(),
        ),
        EventLoop::new(
            swarm,
            cmd_rx,
            ev_tx,
            dropped,
            in_flight,
            cfg.metrics,
            connected,
        ),
        ev_rx,
    ))
}

/// Gossipsub peer scoring: a peer that forwards messages this node rejects
/// (undecodable, out of bounds, unsigned) loses score fast and is graylisted
/// (its gossip ignored) after a few; many peers behind one public IP are
/// penalised (colocation). The delivery-rate terms (P3, P3b) are off: a
/// membership topic carries a heartbeat per peer every few seconds, too
/// little to judge a mesh peer's delivery rate by, and penalising it would
/// prune honest peers from the mesh.
fn gossip_scoring() -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let topic = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 0.1,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // Three rejected messages: -90, under the graylist threshold (-80);
        // the count decays by a tenth a second.
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    let mut params = gossipsub::PeerScoreParams {
        // Loopback is one host: a local swarm or a test, not colocated sybils.
        ip_colocation_factor_whitelist: [
            std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    for t in TOPICS {
        params
            .topics
            .insert(gossipsub::IdentTopic::new(t).hash(), topic.clone());
    }
    (params, gossipsub::PeerScoreThresholds::default())
}
