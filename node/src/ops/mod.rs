//! The operations behind the CLI, as plain functions from a [`Ctx`] and a
//! request to a serialisable report. The CLI calls them directly on the local
//! store when no daemon runs, and the daemon's control API calls them with the
//! swarm attached; both print the same reports.

pub mod delete;
pub mod lifecycle;
pub mod rebuild;

use crate::backup::BackupError;
use crate::distribute::{Net, SwarmSource};
use crate::manifests::LoadError;
use crate::restore::RestoreError;
use crate::shards::{Local, ShardSource};
use shardnet_protocol::MasterKey;
use shardnet_store::{Store, StoreError};
use std::path::PathBuf;

mod backups;
mod shards;
mod upkeep;

pub use backups::*;
pub use shards::*;
pub use upkeep::*;

/// What an operation needs: the store, the owner key, and the swarm if the
/// node is running.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub master: MasterKey,
    pub net: Option<&'a Net>,
    /// The node's data dir, never backed up.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Swarm(String),
    #[error(transparent)]
    Prune(#[from] crate::prune::PruneError),
}

impl Ctx<'_> {
    pub(crate) fn source(&self) -> Box<dyn ShardSource + '_> {
        match self.net {
            Some(net) => Box::new(SwarmSource::new(net, self.store)),
            None => Box::new(Local(self.store)),
        }
    }
}
