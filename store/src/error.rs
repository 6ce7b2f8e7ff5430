//! The one error type of the store.

use shardnet_protocol::codec::CodecError;
use shardnet_protocol::ShardId;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another shardnet process (a running node?); stop it or use its control API")]
    Locked { path: PathBuf },
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("the disk holding the store is full: {0}; free space or lower other usage, nothing was lost")]
    DiskFull(String),
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("shard {id} is corrupted: {reason}")]
    CorruptShard { id: ShardId, reason: String },
    #[error("shard {id} is not in this store")]
    NotFound { id: ShardId },
    #[error("refused shard {id}: its bytes hash to {actual}")]
    IdMismatch { id: ShardId, actual: ShardId },
    #[error("store record is unreadable: {0}")]
    Codec(#[from] CodecError),
}

impl StoreError {
    pub(crate) fn engine(e: rocksdb::Error) -> Self {
        let msg = e.to_string();
        if msg.contains("No space left") {
            StoreError::DiskFull(msg)
        } else {
            StoreError::Engine(msg)
        }
    }
}
