//! Arguments of the owner's commands: `backup`, `shards`, `keys`,
//! `distribution`, `report`.

use super::node::InitArgs;
use crate::ops::StatusFilter;
use clap::{Args, Subcommand};
use shardnet_protocol::{BackupId, Cipher, Tier};
use std::path::PathBuf;

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
    /// Rebuild every missing piece of a backup's chunks kept as pieces
    /// (`--redundancy rs`) from the pieces proven now, and store them again.
    /// The running node does it by itself once fewer than K + ceil(M/2)
    /// pieces of a chunk are proven.
    Repair { id: BackupId },
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
    /// How file chunks are kept in the swarm: `replicate` (the tier's
    /// copies), `rs` (Reed–Solomon pieces as durable as those copies, about
    /// half the bytes) or `rs K+M` (any K of K+M pieces restore a chunk).
    /// Default: `redundancy` in config.toml, else replicate.
    #[arg(long, value_name = "POLICY")]
    pub redundancy: Option<shardnet_protocol::redundancy::Policy>,
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
