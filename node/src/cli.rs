//! Command-line definitions (clap derive), noun-verb: `shardnet backup create`.

pub use crate::ops::StatusFilter;
use clap::{Args, Parser, Subcommand};
use shardnet_protocol::{BackupId, Cipher, Tier};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shardnet",
    version,
    about = "Peer-to-peer encrypted, sharded backups"
)]
pub struct Cli {
    /// Data directory (node identity, owner key, shard store).
    #[arg(long, global = true, env = "SHARDNET_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Create the data directory, a node identity and an owner key.
    Init(InitArgs),
    /// Export or import the owner key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create, list, inspect, verify and restore backups.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Inspect the shards held in the local store.
    #[command(subcommand)]
    Shards(ShardsCommand),
    /// Measure backup and restore throughput against this machine's limits.
    Bench(BenchArgs),
    /// Run this node, or ask the running node about itself.
    #[command(subcommand)]
    Node(NodeCommand),
    /// The peers this node knows.
    #[command(subcommand)]
    Peers(PeersCommand),
    /// Repair, handoff and rebalancing of the shards this node holds.
    #[command(subcommand)]
    Rebalance(RebalanceCommand),
    /// The background scrub that re-reads and re-hashes every held shard.
    #[command(subcommand)]
    Scrub(ScrubCommand),
    /// The node's audit trail: every change of a held shard and every
    /// operator action, hash-chained.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// How long and in how many copies backups are kept: extend, change
    /// tier, audit.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Plan and run the removal of local copies that are no longer wanted
    /// (expired, orphaned), through quarantine, with rollback and purge.
    #[command(subcommand)]
    Prune(PruneCommand),
    /// The node's configuration: check a file, get and set settings while
    /// it runs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Where the copies of this owner's backups are, swarm-wide.
    #[command(subcommand)]
    Distribution(DistributionCommand),
    /// What the node did over the last day or week: backups, storage,
    /// repairs, prunes, corruption, proofs, peers joined and left.
    Report(ReportArgs),
    /// The swarm simulator: `shardnet sim run SCENARIO`, `sim validate`,
    /// `sim demo` (runs the `shardnet-sim` program installed beside this one).
    #[command(disable_help_flag = true)]
    Sim {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum NodeCommand {
    /// Run the node daemon: join the swarm, store others' shards, serve the CLI.
    // The last of a repeated flag wins (an operator appends an override).
    #[command(args_override_self = true)]
    Run(RunArgs),
    /// Status of the running node.
    Status,
    /// The runbook's health checks (disk, peers, repair, scrub, integrity,
    /// audits, compaction, versions): ok, warn or critical; exit 0, 1 or 2.
    Health,
    /// Leave gracefully: take no new shards, hand every shard off, and report
    /// done only when each is confirmed on its new holders.
    Drain {
        /// Return at once instead of waiting until the node holds nothing.
        #[arg(long)]
        no_wait: bool,
        /// Give up waiting after this many seconds (the drain goes on).
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        /// End a drain: take shards again (it holds across restarts until
        /// then).
        #[arg(long, conflicts_with_all = ["no_wait"])]
        cancel: bool,
    },
}

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

#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// Every known peer: id, addresses, zone, capacity, used, last seen.
    List,
    /// Reputation scores from this node's audits (worst first), or one peer's.
    Reputation {
        peer: Option<String>,
        /// Show the newest evidence behind each score.
        #[arg(long)]
        why: bool,
    },
    /// Isolate a peer by hand: no new shards, its copies count for nothing.
    Isolate {
        peer: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Lift an isolation set by hand (evidence-based isolation lifts itself
    /// only as the peer's score recovers).
    Unisolate {
        peer: String,
        #[arg(long, default_value = "lifted by the operator")]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Bits of admission work the new node identity carries: about
    /// 2^N key generations on every core, once (default 20: seconds). A
    /// swarm's nodes ignore peer ids with less work than they ask for.
    #[arg(long, env = "SHARDNET_ID_DIFFICULTY", default_value_t = shardnet_protocol::admission::DEFAULT_DIFFICULTY,
          value_parser = clap::value_parser!(u8).range(0..=shardnet_protocol::admission::MAX_DIFFICULTY as i64))]
    pub id_difficulty: u8,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address to listen on (repeatable), e.g. /ip4/0.0.0.0/tcp/4001.
    #[arg(long)]
    pub listen: Vec<String>,
    /// Address of a peer to join through (repeatable), e.g. /ip4/10.0.0.5/tcp/4001/p2p/12D3...
    #[arg(long)]
    pub bootstrap: Vec<String>,
    /// Failure domain of this node (site, rack, region); replicas spread across zones.
    #[arg(long)]
    pub zone: Option<String>,
    /// Space this node offers to the swarm, e.g. 500GiB.
    #[arg(long)]
    pub capacity: Option<String>,
    /// Most space any one owner may use on this node, e.g. 50GiB.
    #[arg(long)]
    pub quota_per_owner: Option<String>,
    /// Membership heartbeat period in milliseconds.
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    /// Port of the control API on 127.0.0.1 (default: any free port).
    #[arg(long)]
    pub api_port: Option<u16>,
    /// Seconds of silence before a peer is down and its shards are repaired (default 300).
    #[arg(long)]
    pub down_after: Option<u64>,
    /// Most seconds of silence a peer that always came back earns, and the
    /// peers of a partitioned zone get (default 172800; never below --down-after).
    #[arg(long)]
    pub patience_max: Option<u64>,
    /// Seconds between full repair scans (default 30; membership changes scan at once).
    #[arg(long)]
    pub scan_interval: Option<u64>,
    /// Parallel repair and handoff transfers (default 10).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Repair bandwidth per second, e.g. 50MiB (default unlimited).
    #[arg(long)]
    pub bandwidth_limit: Option<String>,
    /// How often each copy of a held shard is re-proved by its co-holders,
    /// e.g. 3d (default), 10m; also the longest a lost copy goes unnoticed.
    #[arg(long)]
    pub audit_interval: Option<String>,
    /// How long a dropped copy stays in quarantine, with the copies elsewhere
    /// passing proofs, before its bytes are purged (default 24h).
    #[arg(long)]
    pub quarantine_grace: Option<String>,
    /// A finished prune job is purged by itself this long after it ran
    /// (default 7d); `prune purge JOB` purges earlier, `prune rollback JOB`
    /// undoes it before then.
    #[arg(long)]
    pub prune_purge_after: Option<String>,
    /// Proofs a new peer must pass before its copies justify removing another
    /// copy (default 10).
    #[arg(long)]
    pub vetting_proofs: Option<u64>,
    /// The background scrub re-reads and re-hashes every held shard once in
    /// this period, e.g. 14d (default), 1h.
    #[arg(long)]
    pub scrub_period: Option<String>,
    /// The scrub sleeps this many times as long as it spent reading (default
    /// 2: at most a third of the disk's time; 0: full speed).
    #[arg(long)]
    pub scrub_tranquility: Option<u32>,
    /// A peer trusted from the start (repeatable), e.g. the operator's own
    /// nodes of a cluster: no vetting, and every new shard keeps one copy on a
    /// trusted or vetted peer. In a new swarm this is the only defence
    /// against peers that prove receipt and then drop the bytes.
    #[arg(long = "trust-peer", value_name = "PEER_ID")]
    pub trust_peer: Vec<String>,
    /// A peer down for this long (after --down-after) is forgotten, e.g. 7d
    /// (default), 1h.
    #[arg(long)]
    pub forget_after: Option<String>,
    /// Audit events older than this are removed, e.g. 400d (default), 7y.
    #[arg(long)]
    pub audit_retention: Option<String>,
    /// Serve Prometheus metrics (`/metrics`) and `/health` here, without a
    /// token, e.g. 127.0.0.1:9464 (off by default).
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_listen: Option<String>,
    /// Bits of admission work every peer id must carry to be given shards
    /// (default 20; the same on every node of a swarm; 0 in a private swarm
    /// whose members are known).
    #[arg(long, env = "SHARDNET_ID_DIFFICULTY")]
    pub id_difficulty: Option<u8>,
    /// A private swarm: only peers with this pre-shared key file can connect
    /// (create one with `shardnet keys swarm-key > swarm.key`, give it to
    /// every node of the swarm).
    #[arg(long, value_name = "FILE")]
    pub swarm_key: Option<String>,
    /// Runs this node's clock ahead by this much, e.g. 100d: an expiry drill
    /// (which leases would have run out, what repair would then skip).
    /// Never on a node of a live swarm: it judges every lease by it.
    #[arg(long, value_name = "DURATION")]
    pub clock_offset: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config.toml before a restart (the checks `node run`
    /// makes); exit 1 with the reason when it is wrong.
    Check {
        /// The file (default: config.toml in the data dir).
        file: Option<std::path::PathBuf>,
    },
    /// The running node's settings: value in force, where it comes from
    /// (default, config.toml, a flag) and whether it changes without a
    /// restart.
    Get {
        /// Print only this key's value.
        key: Option<String>,
    },
    /// Write KEY = VALUE into config.toml (comments kept) and apply it now
    /// when it can be (bandwidth_*, parallel, maintenance_windows, scrub_*,
    /// scan_interval_secs, quarantine_grace); lists are written `a; b`.
    Set { key: String, value: String },
    /// Remove KEY from config.toml (back to its default) and apply that.
    Unset { key: String },
    /// Read config.toml again, as SIGHUP does.
    Reload,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    pub period: Period,
    /// A self-contained HTML page instead of text.
    #[arg(long, conflicts_with = "json")]
    pub html: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Period {
    Daily,
    Weekly,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
        }
    }

    pub fn days(self) -> u64 {
        match self {
            Period::Daily => 1,
            Period::Weekly => 7,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DistributionCommand {
    /// Copies of every shard of the live backups, each proven just now:
    /// histogram, zones, holders, separation, shards below target (exit 1
    /// when some are, 2 when a shard has no proven copy).
    Status,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the owner key as a recovery string. Anyone holding it can read your backups.
    Export,
    /// Install an owner key from its recovery string (argument, or stdin if omitted).
    Import {
        /// The recovery string (`snk1-...`); read from stdin when absent.
        recovery: Option<String>,
        /// Replace a different owner key already in this data dir.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        init: InitArgs,
    },
    /// Print a new pre-shared key for a private swarm (`node run --swarm-key`).
    SwarmKey,
    /// Replace the owner key (after a leak): every live backup is re-signed
    /// and re-listed under a new key through the running node, and the old
    /// key is revoked in its catalogue. See the README on what this protects.
    Rotate {
        /// Rotate without asking (required without a terminal).
        #[arg(long)]
        yes: bool,
        /// Also rewrite every data shard under the new key (a full download
        /// and upload of the live backups): the old key then opens nothing
        /// that stays stored.
        #[arg(long)]
        reencrypt: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up files and directories; prints the backup id.
    Create(CreateArgs),
    /// List the backups in the catalogue (expired ones only with --all).
    List {
        /// Also backups past their expiry, marked expired.
        #[arg(long)]
        all: bool,
    },
    /// Show one backup (and its files with --files).
    Show {
        id: BackupId,
        /// List every file, directory and symlink.
        #[arg(long)]
        files: bool,
    },
    /// Restore a backup (or one path inside it) into DEST.
    Restore {
        id: BackupId,
        dest: PathBuf,
        /// Restore only this path of the backup (as `backup show --files` prints it).
        #[arg(long)]
        path: Option<String>,
        /// Restore into a non-empty directory, overwriting files.
        #[arg(long)]
        force: bool,
    },
    /// Delete a backup: its catalogue entry becomes a tombstone and every
    /// holder gets an owner-signed release of its shards' leases (shards
    /// another backup shares are kept); prune then removes the copies.
    Delete {
        id: BackupId,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Check that every shard of a backup is present and healthy.
    Verify {
        id: BackupId,
        /// Read, hash and decrypt every shard instead of checking metadata.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Files and directories to back up.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Retention tier: critical (7y, 7 copies), gold (3y, 5), silver (1y, 3), bronze (90d, 2).
    #[arg(long, default_value = "silver")]
    pub tier: Tier,
    /// A name for the backup (defaults to the first path).
    #[arg(long)]
    pub name: Option<String>,
    /// Shard cipher: aes-256-gcm or chacha20-poly1305.
    #[arg(long, default_value = "aes-256-gcm")]
    pub cipher: Cipher,
}

#[derive(Debug, Subcommand)]
pub enum ShardsCommand {
    /// List shards, optionally by status.
    List {
        /// healthy, corrupted, quarantined, or expired (every lease past).
        #[arg(long)]
        status: Option<StatusFilter>,
    },
    /// Re-read and re-hash shards now (all held shards when no id is given);
    /// a bad or missing copy is marked corrupted, and repair replaces it.
    Verify {
        ids: Vec<shardnet_protocol::ShardId>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Bytes of each data set (incompressible and compressible).
    #[arg(long, default_value = "1GiB")]
    pub size: bytesize::ByteSize,
    /// Also back up and restore one file of this size and report peak memory (0 = skip).
    #[arg(long, default_value = "2GiB")]
    pub big_file: bytesize::ByteSize,
    /// Instead: back up and restore --size through a local swarm of this many
    /// node processes (3 copies), next to raw request-response throughput.
    #[arg(long, default_value_t = 0)]
    pub swarm: usize,
    /// Instead: repair figures on a local swarm of this many node processes
    /// (time to full redundancy after a kill -9, traffic per byte lost, spread).
    #[arg(long, default_value_t = 0)]
    pub churn: usize,
    /// Instead: peer ids an attacker must generate to hold a majority of
    /// one chosen shard's responsible set, among this many honest peers
    /// (comma-separated, e.g. 100,10000).
    #[arg(long, value_delimiter = ',')]
    pub sybil: Vec<usize>,
    /// Work directory for generated data and stores (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
