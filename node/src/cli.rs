//! Command-line definitions (clap derive), noun-verb: `shardnet backup create`.

use clap::{Args, Parser, Subcommand};
use shardnet_protocol::{BackupId, Cipher, Tier};
use shardnet_store::ShardState;
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
pub enum Command {
    /// Create the data directory, a node identity and an owner key.
    Init,
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
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up files and directories; prints the backup id.
    Create(CreateArgs),
    /// List the backups in the catalogue.
    List,
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
}

/// A shard status to filter on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    State(ShardState),
    Expired,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("expired") {
            return Ok(StatusFilter::Expired);
        }
        s.parse::<ShardState>()
            .map(StatusFilter::State)
            .map_err(|_| {
                format!("unknown status {s:?}: expected healthy, corrupted, quarantined or expired")
            })
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Bytes of each data set (incompressible and compressible).
    #[arg(long, default_value = "1GiB")]
    pub size: bytesize::ByteSize,
    /// Also back up and restore one file of this size and report peak memory (0 = skip).
    #[arg(long, default_value = "2GiB")]
    pub big_file: bytesize::ByteSize,
    /// Work directory for generated data and stores (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
