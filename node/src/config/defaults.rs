//! The defaults of every setting a node's config file may leave out.

use std::time::Duration;

/// Default listen address: every interface, a random port.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/0";

/// Default capacity offered to the swarm.
pub const DEFAULT_CAPACITY: u64 = 100 << 30;

/// Default per-owner quota: a tenth of the default capacity.
pub const DEFAULT_QUOTA: u64 = 10 << 30;

/// Heartbeat period: how often a node checks whether its heartbeat changed
/// and probes its quiet ring neighbours; a watched peer is live while heard
/// from within 5 periods.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);

/// Longest a node stays silent on the membership topic when nothing in its
/// heartbeat changes (`docs/membership.md`): the liveness floor for peers
/// nobody reported silent and this node has not tried to reach. It is the
/// one membership cost that grows with the swarm: each node hears every
/// member's refresh, about 1.8 KB/s at 10,000 nodes with 6 hours (16 heard
/// a second, 64 KB/s, with the 10 minutes of before). A long refresh is safe
/// because a node learns a peer died at its first failed dial (its own
/// evidence, `View::unreachable`), ring neighbours watch each other
/// directly, owners audit their holders, and digest reconciliation heals
/// the changes gossip missed.
pub const DEFAULT_MEMBERSHIP_REFRESH: Duration = Duration::from_secs(6 * 3600);

/// How often a node reconciles its member list with one connected peer by
/// digest (`protocol::digest`): 8 KiB each way when the two agree.
pub const DEFAULT_MEMBERSHIP_DIGEST: Duration = Duration::from_secs(600);

/// Silence after which a peer is down and its shards are repaired elsewhere:
/// long enough for a home server's reboot, short enough to repair a dead disk
/// within minutes.
pub const DEFAULT_DOWN_AFTER: Duration = Duration::from_secs(300);

/// Resident memory above which the node takes no new connections: the last
/// line behind the per-connection and response-byte budgets (the fetch flood
/// of `tests/e2e_hostile.rs` peaks near 530 MiB).
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// Default ceiling of a silent peer's patience: two days, a long weekend's
/// power cut at home or a site's link down.
pub const DEFAULT_PATIENCE_MAX: Duration = Duration::from_secs(48 * 3600);

/// Full repair scan period (membership changes also trigger one at once).
pub const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(30);

/// Parallel repair transfers (the runbooks' default).
pub const DEFAULT_PARALLEL: usize = 10;

/// Each copy of each held shard is re-proved by its co-holders this often.
pub const DEFAULT_AUDIT_INTERVAL: Duration = Duration::from_secs(3 * 24 * 3600);

/// Quarantined copies wait this long, with proofs passing, before they go.
pub const DEFAULT_QUARANTINE_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Passed proofs before a peer's copies may justify removing another copy.
pub const DEFAULT_VETTING_PROOFS: u64 = 10;

/// A peer down this long leaves the view (its shards were repaired long ago).
pub const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Audit events older than this are removed (daily).
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(400 * 24 * 3600);

/// The scrub re-reads the whole store once in this period.
pub const DEFAULT_SCRUB_PERIOD: Duration = Duration::from_secs(14 * 24 * 3600);

/// The scrub sleeps at least this many times as long as it read (so it takes
/// at most a third of the disk's time).
pub const DEFAULT_SCRUB_TRANQUILITY: u32 = 2;

/// Done prune jobs wait this long before they are purged by themselves.
pub const DEFAULT_PRUNE_PURGE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
