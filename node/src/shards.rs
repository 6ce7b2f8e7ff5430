//! Where a backup's shards go and where a restore's come from. A backup writes
//! through a [`ShardSink`] and a restore reads through a [`ShardSource`]; the
//! local store implements both ([`Local`]), and the swarm implements them by
//! placing shards on their responsible peers ([`crate::distribute`]).

use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::{Sealed, ShardId, Terms};
use shardnet_store::{PutOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("shard {id}: only {confirmed} of {wanted} copies confirmed ({reason})")]
    Underreplicated {
        id: ShardId,
        confirmed: usize,
        wanted: usize,
        reason: String,
    },
    #[error("publishing the catalogue: {0}")]
    Catalogue(String),
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("shard {0} is not available from any holder")]
    NotFound(ShardId),
    #[error("shard {id} is corrupted: {reason}")]
    Corrupt { id: ShardId, reason: String },
    #[error("shard {id}: {reason}")]
    Failed { id: ShardId, reason: String },
}

pub trait ShardSink: Sync {
    /// Dedup: the shard already stored for this chunk (by dedup index key), with
    /// a lease under `terms` added wherever it is held; `None` means: seal and
    /// `put` it.
    fn reuse(
        &self,
        index_key: &[u8; 32],
        terms: &Terms,
    ) -> Result<Option<(ShardId, u64)>, SinkError>;
    /// Stores `shard` under a lease signed to `terms` where it belongs; `last`
    /// marks the backup's final shard (its root). Returns whether new bytes
    /// were written.
    fn put(&self, shard: &Sealed, terms: &Terms, last: bool) -> Result<bool, SinkError>;
    /// Records `index_key → (id, size)` in the owner's dedup index.
    fn remember(&self, index_key: &[u8; 32], id: &ShardId, size: u32) -> Result<(), SinkError>;
    /// Makes everything durable, then records the backup in the catalogue.
    fn commit(&self, entry: &CatalogueEntry) -> Result<(), SinkError>;
}

pub trait ShardSource: Sync {
    /// The bytes of `id`, verified against it.
    fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError>;
    /// Reads worth running at once per core: a local read waits on the
    /// disk for part of each shard, so two per core (see `restore`).
    fn reads_per_core(&self) -> usize {
        2
    }
}

/// The local store as sink and source.
pub struct Local<'a>(pub &'a Store);

impl ShardSink for Local<'_> {
    fn reuse(
        &self,
        index_key: &[u8; 32],
        terms: &Terms,
    ) -> Result<Option<(ShardId, u64)>, SinkError> {
        if let Some(id) = self.0.lookup_chunk(index_key)? {
            if self.0.add_lease(&id, terms.lease(&id))? {
                let size = self.0.meta(&id)?.map_or(0, |m| m.size as u64);
                return Ok(Some((id, size)));
            }
        }
        Ok(None)
    }

    fn put(&self, shard: &Sealed, terms: &Terms, _last: bool) -> Result<bool, SinkError> {
        Ok(self.0.put_sealed(shard, terms.lease(&shard.id()))? != PutOutcome::AlreadyPresent)
    }

    fn remember(&self, index_key: &[u8; 32], id: &ShardId, size: u32) -> Result<(), SinkError> {
        Ok(self.0.index_chunk(index_key, id, size)?)
    }

    fn commit(&self, entry: &CatalogueEntry) -> Result<(), SinkError> {
        self.0.flush()?;
        Ok(self.0.put_backup(entry)?)
    }
}

impl ShardSource for Local<'_> {
    fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError> {
        self.0.get_shard(id).map_err(|e| match e {
            StoreError::NotFound { id } => SourceError::NotFound(id),
            StoreError::CorruptShard { id, reason } => SourceError::Corrupt { id, reason },
            other => SourceError::Failed {
                id: *id,
                reason: other.to_string(),
            },
        })
    }
}
