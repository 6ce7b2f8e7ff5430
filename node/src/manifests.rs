//! Loading a backup's manifest from the store: root shard → pieces → manifest,
//! with errors that tell the user what went wrong (unknown id, wrong owner key,
//! a corrupted manifest shard).

use crate::shards::{ShardSource, SourceError};
use shardnet_protocol::manifest::{self, Manifest, ManifestError, ManifestRoot};
use shardnet_protocol::{BackupId, MasterKey};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no backup {0} found (`shardnet backup list` shows the ids)")]
    Unknown(BackupId),
    #[error("backup {id} ({name}) is in the catalogue, but no holder of its index shard answered: they are offline or unreachable. Check `shardnet peers list` and retry when they are back; the data shards are not lost for that")]
    Unreachable { id: BackupId, name: String },
    #[error("backup {id}: {source}")]
    Manifest { id: BackupId, source: ManifestError },
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Opens the root of backup `id`.
pub fn load_root(
    src: &dyn ShardSource,
    master: &MasterKey,
    id: &BackupId,
) -> Result<ManifestRoot, LoadError> {
    let bytes = src.get(id).map_err(|e| match e {
        SourceError::NotFound(_) => LoadError::Unknown(*id),
        other => LoadError::Source(other),
    })?;
    manifest::open_root(&bytes, master).map_err(|source| LoadError::Manifest { id: *id, source })
}

/// Opens the whole manifest of backup `id`.
pub fn load(
    src: &dyn ShardSource,
    master: &MasterKey,
    id: &BackupId,
) -> Result<(ManifestRoot, Manifest), LoadError> {
    let root = load_root(src, master, id)?;
    let pieces = root
        .pieces
        .iter()
        .map(|p| src.get(&p.id))
        .collect::<Result<Vec<_>, _>>()?;
    let m = manifest::open_manifest(&root, &pieces)
        .map_err(|source| LoadError::Manifest { id: *id, source })?;
    Ok((root, m))
}
