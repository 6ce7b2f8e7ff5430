//! Where a backup's shards go and where a restore's come from. A backup writes
//! through a [`ShardSink`] and a restore reads through a [`ShardSource`]; the
//! local store implements both ([`Local`]), and the swarm implements them by
//! placing shards on their responsible peers ([`crate::distribute`]).

use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::manifest::StripeRef;
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
    #[error("shard {id}: {reason}")]
    Pieces { id: ShardId, reason: String },
}

/// What a backup stores a shard for: file chunks may be cut into pieces;
/// the manifest's shards and its root stay whole copies (small, and read
/// before anything else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Data,
    Manifest,
    /// The backup's final shard: complementary separation applies.
    Root,
}

/// A shard stored by a sink.
#[derive(Clone, Debug)]
pub struct Put {
    /// New bytes were written somewhere.
    pub new: bool,
    /// Bytes stored: one copy's, or every piece's together.
    pub size: u64,
    /// The pieces, when the shard was cut into them.
    pub stripe: Option<StripeRef>,
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

/// A chunk found in the dedup index, with a lease added wherever it is held.
#[derive(Clone, Debug)]
pub struct Reused {
    pub id: ShardId,
    pub size: u64,
    pub stripe: Option<StripeRef>,
}

pub trait ShardSink: Sync {
    /// Dedup: the shard already stored for this chunk (by dedup index key), with
    /// a lease under `terms` added wherever it is held; `None` means: seal and
    /// `put` it.
    fn reuse(&self, index_key: &[u8; 32], terms: &Terms) -> Result<Option<Reused>, SinkError>;
    /// Stores `shard` under a lease signed to `terms` where it belongs.
    fn put(&self, shard: &Sealed, terms: &Terms, role: Role) -> Result<Put, SinkError>;
    /// Records in the owner's dedup index that the chunk of `index_key` is
    /// shard `id`, stored as `put` says.
    fn remember(&self, index_key: &[u8; 32], id: &ShardId, put: &Put) -> Result<(), SinkError>;
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
    /// The bytes of pieces `indices` of `stripe`, in order; one at a time
    /// unless the source can do better (the swarm asks each piece's place
    /// first, all side by side).
    fn get_pieces(
        &self,
        stripe: &StripeRef,
        indices: &[usize],
    ) -> Vec<Result<Vec<u8>, SourceError>> {
        indices
            .iter()
            .map(|i| self.get(&stripe.pieces[*i]))
            .collect()
    }
}

/// The local store as sink and source.
pub struct Local<'a>(pub &'a Store);

impl ShardSink for Local<'_> {
    fn reuse(&self, index_key: &[u8; 32], terms: &Terms) -> Result<Option<Reused>, SinkError> {
        if let Some(id) = self.0.lookup_chunk(index_key)? {
            if self.0.add_lease(&id, terms.lease(&id))? {
                let size = self.0.meta(&id)?.map_or(0, |m| m.size as u64);
                return Ok(Some(Reused {
                    id,
                    size,
                    stripe: None,
                }));
            }
        }
        Ok(None)
    }

    /// One node keeps whole shards: pieces on one disk would only cost
    /// more bytes.
    fn put(&self, shard: &Sealed, terms: &Terms, _role: Role) -> Result<Put, SinkError> {
        let new = self.0.put_sealed(shard, terms.lease(&shard.id()))? != PutOutcome::AlreadyPresent;
        Ok(Put {
            new,
            size: shard.bytes().len() as u64,
            stripe: None,
        })
    }

    fn remember(&self, index_key: &[u8; 32], id: &ShardId, put: &Put) -> Result<(), SinkError> {
        Ok(self.0.index_chunk(index_key, id, put.size as u32)?)
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
