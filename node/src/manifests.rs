//! Loading a backup's manifest from the store: root shard → pieces → manifest,
//! with errors that tell the user what went wrong (unknown id, wrong owner key,
//! a corrupted manifest shard).

use shardnet_protocol::manifest::{self, Manifest, ManifestError, ManifestRoot};
use shardnet_protocol::{BackupId, MasterKey};
use shardnet_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no backup {0} in this store (`shardnet backup list` shows the ids)")]
    Unknown(BackupId),
    #[error("backup {id}: {source}")]
    Manifest { id: BackupId, source: ManifestError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens the root of backup `id`.
pub fn load_root(
    store: &Store,
    master: &MasterKey,
    id: &BackupId,
) -> Result<ManifestRoot, LoadError> {
    let bytes = store.get_shard(id).map_err(|e| match e {
        StoreError::NotFound { .. } => LoadError::Unknown(*id),
        other => LoadError::Store(other),
    })?;
    manifest::open_root(&bytes, master).map_err(|source| LoadError::Manifest { id: *id, source })
}

/// Opens the whole manifest of backup `id`.
pub fn load(
    store: &Store,
    master: &MasterKey,
    id: &BackupId,
) -> Result<(ManifestRoot, Manifest), LoadError> {
    let root = load_root(store, master, id)?;
    let pieces = root
        .pieces
        .iter()
        .map(|p| store.get_shard(&p.id))
        .collect::<Result<Vec<_>, _>>()?;
    let m = manifest::open_manifest(&root, &pieces)
        .map_err(|source| LoadError::Manifest { id: *id, source })?;
    Ok((root, m))
}
