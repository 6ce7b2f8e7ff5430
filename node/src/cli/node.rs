//! Arguments of running a node and asking it about itself: `init`, `node`,
//! `peers`, `config`.

use clap::{Args, Subcommand};

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
    /// Membership heartbeat period in milliseconds: how often the node checks
    /// whether its heartbeat changed and probes its ring neighbours.
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    /// Longest the node stays silent on the membership topic while nothing
    /// in its heartbeat changes, in seconds (0: every heartbeat period).
    #[arg(long)]
    pub membership_refresh: Option<u64>,
    /// How often the node reconciles its member list with one connected
    /// peer by digest, in seconds (0: never).
    #[arg(long)]
    pub membership_digest: Option<u64>,
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
