//! Backup and restore across the swarm.
//!
//! [`SwarmSink`] places every shard on its responsible set (placement from
//! `protocol`, over a snapshot of the membership view taken when the backup
//! starts), sends the copies in parallel and succeeds only when every copy is
//! confirmed (a `Stored` answer, then a possession proof of the bytes under a
//! fresh nonce: `audit::challenge`), falling back to the next-closest peers when one refuses or fails.
//! The local node is a peer like the others: when it is responsible, the shard
//! goes into its own store. When no copy landed on a holder this node trusts,
//! one more goes to a vetted peer (`protocol::floor`). The backup's root
//! shard is kept off any peer that already holds every other shard of the
//! backup (complementary separation).
//!
//! [`SwarmSource`] reads a shard from the local store if held, else from its
//! responsible peers, then from every other live peer, closest first; bytes that
//! do not hash to the id (a lying or rotten peer) are discarded and the next
//! holder is tried (and the peer gets `wrong bytes` evidence).
//!
//! The owner's catalogue lives in `catalogue` (records at the slot's holders).

mod proven;
mod sink;
mod source;

pub use proven::{proven_copies, proven_holders, proven_holders_near, VERIFY_SAMPLES};
pub use sink::SwarmSink;
pub use source::SwarmSource;

use libp2p::PeerId;

/// Threads sealing and sending shards during a swarm backup (each waits on the
/// network most of the time).
pub const TRANSFER_THREADS: usize = 16;

pub use crate::net::Net;

pub(crate) fn short_peer(p: &PeerId) -> String {
    let s = p.to_string();
    format!("…{}", s.get(s.len().saturating_sub(8)..).unwrap_or(&s))
}
