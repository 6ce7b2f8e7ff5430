//! The composed libp2p behaviour of a shardnet node.

use super::codec::ShardCodec;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    connection_limits, gossipsub, identify, memory_connection_limits, ping, request_response,
};

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub limits: connection_limits::Behaviour,
    pub memory: memory_connection_limits::Behaviour,
    pub kad: super::paced_kad::PacedKad,
    pub gossipsub: gossipsub::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub shard: request_response::Behaviour<ShardCodec>,
}
