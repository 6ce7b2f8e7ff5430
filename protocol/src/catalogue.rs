//! The owner's backup catalogue: one entry per backup, enough to list backups
//! without opening their manifests.

use crate::id::BackupId;
use crate::manifest::BackupInfo;
use serde::{Deserialize, Serialize};

/// Largest encoded catalogue entry accepted.
pub const MAX_ENTRY_LEN: usize = 64 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub id: BackupId,
    pub info: BackupInfo,
    /// Distinct shards the backup references (chunks, manifest pieces, root).
    pub shards: u64,
    /// Bytes of those shards as stored (after compression and encryption).
    pub stored_bytes: u64,
    /// Shards this backup added that were not stored before.
    pub new_shards: u64,
    pub new_bytes: u64,
}
