//! Command-line definitions (clap derive), noun-verb: `shardnet backup create`.
//! The top level is here; each group of commands' arguments is in its own file.

pub use crate::ops::StatusFilter;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod backup;
mod bench;
mod node;
mod upkeep;

pub use backup::*;
pub use bench::*;
pub use node::*;
pub use upkeep::*;

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
