//! Arguments of the upkeep commands: `rebalance`, `prune`, `retention`,
//! `audit`, `scrub`.

use clap::{Args, Subcommand};
use shardnet_protocol::{BackupId, Tier};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RebalanceCommand {
    /// What would move and why, with totals, ETA and load imbalance.
    Plan {
        /// Churn (fraction of known peers not live) above which to warn.
        #[arg(long, default_value_t = 0.2)]
        churn_threshold: f64,
    },
    /// Queue the plan's transfers now (the node also does this by itself).
    Run {
        /// Transfers at once.
        #[arg(long)]
        parallel: Option<usize>,
        /// Show the plan, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Progress: queued, in flight, moved, failures, ETA.
    Status,
    /// Stop starting new transfers (in-flight ones finish).
    Pause,
    /// Start transfers again.
    Resume,
}

#[derive(Debug, Subcommand)]
pub enum PruneCommand {
    /// Every local copy that may leave, with its class, size and reason;
    /// totals per class. Changes nothing.
    Plan {
        /// Only these classes (repeatable): expired, orphaned, corrupted,
        /// redundant (default: all).
        #[arg(long)]
        class: Vec<String>,
        /// Write the plan to this file, for `prune run --plan`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: PlanFilterArgs,
    },
    /// Start a job: re-check every entry now and move the copies still in
    /// their class to quarantine (bytes kept until `prune purge`).
    Run {
        /// A plan written by `prune plan --out` (refused if edited).
        #[arg(long, value_name = "FILE", conflicts_with = "class")]
        plan: Option<PathBuf>,
        /// Plan these classes now and run the plan (repeatable).
        #[arg(long)]
        class: Vec<String>,
        /// Check and count only; no job, nothing changed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        filter: PlanFilterArgs,
    },
    /// Every prune job, oldest first.
    Jobs,
    /// One job: counts, history and every entry.
    Status { job: u64 },
    /// Bring every copy the job quarantined back to service (re-hashed).
    Rollback { job: u64 },
    /// Delete the bytes of the job's quarantined copies still in their class.
    Purge { job: u64 },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Keep a backup longer: every shard's lease is re-signed with the later
    /// expiry and renewed on its holders.
    Extend {
        id: BackupId,
        /// How much longer (1y, 6months, 30d).
        #[arg(long, value_name = "DURATION")]
        by: humantime::Duration,
    },
    /// Move a backup to another tier (critical, gold, silver, bronze): its
    /// copies and its term from creation. Raising adds copies through repair;
    /// lowering replaces the leases (owner-signed), and the surplus copies
    /// are then quarantined and pruned.
    Tier { id: BackupId, tier: Tier },
    /// Every backup against its tier: expiry, copies proven now against the
    /// target, warnings ahead of expiry; and expired copies still held here.
    Audit {
        /// Warn about backups expiring within this long.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        warn: humantime::Duration,
    },
}

/// Narrowing a prune plan.
#[derive(Debug, Clone, Args)]
pub struct PlanFilterArgs {
    /// Only copies whose leases ask for this tier's copies (critical, gold,
    /// silver, bronze); copies without a lease have no tier.
    #[arg(long)]
    pub tier: Option<Tier>,
    /// Only copies stored longer ago than this (30d, 6months).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<humantime::Duration>,
    /// Only as much as frees SIZE (20GiB), in the emergency reclaim's order:
    /// expired, then orphaned, then redundant, largest first.
    #[arg(long, value_name = "SIZE")]
    pub reclaim: Option<bytesize::ByteSize>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit events, oldest first (the newest --limit that match).
    Log {
        /// Only events since this time: a duration ago (2h, 7d) or an
        /// RFC 3339 time (2026-12-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only this action, e.g. stored, repaired, purged, peer-isolated,
        /// node-started (`audit log --action help` lists them).
        #[arg(long)]
        action: Option<String>,
        /// Only events about this shard.
        #[arg(long)]
        shard: Option<shardnet_protocol::ShardId>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Recompute every link of the chain: edited events, removed ones (gaps),
    /// and the head hash to record for later checks. Exit 1 if broken.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum ScrubCommand {
    /// Progress of the current pass, rate, last full pass, corruptions found.
    Status,
    /// Run a pass now, paced only by tranquility (then back to the period).
    Start,
    /// Stop reading until `scrub start`.
    Pause,
}
