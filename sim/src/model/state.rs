//! The model's world: nodes, shards and backups, with the same notions the
//! real node uses (live, suspect, down; holders; responsible sets).

use shardnet_protocol::patience::{Outages, Wait};
use shardnet_protocol::placement::{Key, VirtualKeys};
use shardnet_protocol::redundancy::Scheme;
use shardnet_protocol::reputation::Reputation;
use shardnet_protocol::{ShardId, Tier};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeState {
    Up,
    /// Not answering; `down` once `down_after` has passed (then out of every
    /// responsible set). `disk` false: it crashed and its data is gone.
    Offline {
        down: bool,
        disk: bool,
    },
    /// Left for good (drained, or crashed and detected).
    Gone,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) key: Key,
    pub(crate) vkeys: VirtualKeys,
    pub(crate) zone: usize,
    pub(crate) capacity: u64,
    pub(crate) used: u64,
    pub(crate) state: NodeState,
    pub(crate) draining: bool,
    /// Bumped on every state change, so stale timers are ignored.
    pub(crate) epoch: u32,
    /// When the node's uplink / downlink is next free (ms).
    pub(crate) up_free: u64,
    pub(crate) down_free: u64,
    /// Bytes this node sent as repair or handoff.
    pub(crate) sent: u64,
    /// Shards with a healthy copy here (ordered: runs are deterministic).
    pub(crate) holdings: BTreeSet<u32>,
    /// Shards it held when it crashed: they need repair once it is down.
    pub(crate) lost_holdings: Vec<u32>,
    /// Shards whose responsible set included it, last time they were checked,
    /// without its holding a copy (a transfer under way or not possible).
    pub(crate) wanted: BTreeSet<u32>,
    /// Takes copies and keeps nothing (`churn.liar_fraction`).
    pub(crate) liar: bool,
    /// Trusted by the operator from the start (`swarm.trusted`).
    pub(crate) trusted: bool,
    /// Out of every responsible set on audit evidence.
    pub(crate) isolated: bool,
    pub(crate) rep: Reputation,
    /// When it first got a copy (a liar's isolation time counts from here).
    pub(crate) first_copy_at: Option<u64>,
    /// Outages it came back from, as the other nodes saw them.
    pub(crate) outages: Outages,
    /// When it last went silent (ms).
    pub(crate) offline_since: u64,
    /// How long the others wait for it this time.
    pub(crate) wait: Wait,
    /// Distinct peers holding a shard with it, as last counted.
    pub(crate) co_holders: Option<CoHolders>,
}

/// A node's co-holders for the membership metric, recounted only when its
/// holdings grew or shrank by a tenth or a month has passed: counting at
/// every outage took a tenth of a year's run, and a fifth with pieces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CoHolders {
    /// When they were counted (ms).
    pub(crate) at: u64,
    /// The node's holdings then.
    pub(crate) held: usize,
    pub(crate) peers: u64,
}

impl CoHolders {
    /// Whether this count still stands for a node holding `held` at `now`.
    pub(crate) fn fresh(&self, held: usize, now: u64, month_ms: u64) -> bool {
        now < self.at.saturating_add(month_ms) && held.abs_diff(self.held) * 10 <= self.held
    }
}

impl Node {
    pub(crate) fn up(&self) -> bool {
        self.state == NodeState::Up
    }

    /// In the other nodes' responsible sets: live or suspect, not down.
    pub(crate) fn in_view(&self) -> bool {
        if self.isolated {
            return false;
        }
        match self.state {
            NodeState::Up => true,
            NodeState::Offline { down, .. } => !down,
            NodeState::Gone => false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Shard {
    pub(crate) id: ShardId,
    /// Bytes each holder stores: the whole shard, or one Reed–Solomon piece.
    pub(crate) size: u64,
    /// The shard's own bytes.
    pub(crate) logical: u64,
    /// Its redundancy (`protocol::redundancy`): copies or pieces wanted (one
    /// per responsible peer), how many restore it, and the lazy-repair floor.
    pub(crate) scheme: Scheme,
    pub(crate) backup: u32,
    /// Nodes with a healthy copy (online or not).
    pub(crate) holders: Vec<u32>,
    /// Transfers under way to these nodes.
    pub(crate) pending: Vec<u32>,
    pub(crate) lost: bool,
    /// When its holders last changed or a scan last looked at it: a node
    /// back from a short outage need not look at shards untouched since it
    /// went silent (`Sim::come_back`).
    pub(crate) touched: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Backup {
    pub(crate) tier: Tier,
    pub(crate) shards: Vec<u32>,
    pub(crate) lost: bool,
}
