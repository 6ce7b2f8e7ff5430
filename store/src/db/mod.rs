//! [`Store`]: the RocksDB database and its column families, opened with the
//! tuning in `options`, and the primitives every other module of this crate
//! builds on: raw reads here, and in `durability` the batched writes without
//! the WAL, the flush that makes them durable, logged groups and the striped
//! per-shard lock. Thread-safe; share it behind an `Arc`. Writes that
//! touch one shard's metadata take the striped lock so that read-modify-write
//! of leases never loses an update.
//!
//! Two ways to make writes durable, one store: batches skip the WAL and a
//! flush makes them durable (a local backup), or, inside [`Store::logged`],
//! they go through the WAL and one WAL sync makes a whole group durable (a
//! peer's stores). Either way the bytes of shards of 64 KiB and more are not
//! in the batch: they were written once to a segment file (`segments`),
//! which is synced first. Through RocksDB (WAL, then a blob file at flush) a
//! peer's group of 4 shards cost 1.18 CPU-s per GB stored, in segments
//! 0.50-0.78 (`cargo run -p shardnet-store --example group_commit`).
//!
//! The operations live beside it by what they touch: shard bytes and
//! metadata (`shards`), leases and avoid lists (`leases`), the owner's dedup
//! index (`chunks`), the audit trail (`audit`), and so on.

mod durability;
mod options;

pub use options::{StoreOptions, MAX_OPEN_FILES};

use crate::error::StoreError;
use crate::segments::Segments;
use rocksdb::{IteratorMode, DB};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

const CF_SHARDS: &str = "shards";
const CF_META: &str = "meta";
pub(crate) const CF_SHARDS_NAME: &str = CF_SHARDS;
pub(crate) const CF_META_NAME: &str = CF_META;
pub(crate) const CF_BACKUPS: &str = "backups";
pub(crate) const CF_CHUNKS: &str = "chunks";
const CF_AUDIT: &str = "audit";
/// Each audit event's link in the hash chain (see `audit`).
pub(crate) const CF_AUDIT_CHAIN: &str = "audit_chain";
pub(crate) const CF_AUDIT_NAME: &str = CF_AUDIT;
pub(crate) const CF_CATALOGUES: &str = "catalogues";
pub(crate) const CF_TRANSFERS: &str = "transfers";
pub(crate) const CF_EVIDENCE: &str = "evidence";
pub(crate) const CF_PEERS: &str = "peers";
pub(crate) const CF_STATE: &str = "state";
/// Where each shard of 64 KiB or more has its bytes: a segment record.
pub(crate) const CF_LOCATIONS: &str = "locations";
/// Every column family: `flush` covers them all (a family left out would lose
/// its WAL-less writes in a crash; the transfer queue once was).
const ALL_CFS: [&str; 12] = [
    CF_SHARDS,
    CF_META,
    CF_BACKUPS,
    CF_CHUNKS,
    CF_AUDIT,
    CF_CATALOGUES,
    CF_TRANSFERS,
    CF_EVIDENCE,
    CF_PEERS,
    CF_STATE,
    CF_AUDIT_CHAIN,
    CF_LOCATIONS,
];

/// Striped locks serialising metadata read-modify-write per shard.
const LOCK_STRIPES: usize = 64;

/// Most peers one shard's placement may avoid.
pub use shardnet_protocol::lease::MAX_AVOID;

pub struct Store {
    /// Before `db`: fields drop in order, and the segments sync at close.
    pub(crate) segments: Segments,
    pub(crate) db: DB,
    path: PathBuf,
    /// The last audit event's link hash and the next sequence number.
    pub(crate) audit_head: Mutex<([u8; 32], u64)>,
    locks: Vec<Mutex<()>>,
    /// A write without the WAL may not be durable yet: the next logged
    /// group flushes first, so that no logged write outlives in a crash an
    /// earlier write that was lost.
    unlogged: AtomicBool,
    /// Unlogged writes share it; a logged group holds it alone from its
    /// check of `unlogged` until its last write. Always taken before a
    /// stripe of `locks` ([`Store::lock`]), never after: a logged group
    /// takes stripes while it holds this alone.
    order: RwLock<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// A raw key and value read from a column family.
pub(crate) type KeyValue = (Box<[u8]>, Box<[u8]>);

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`Store::open`] with `o` (the simulator runs hundreds of stores in
    /// one process and opens each with few files).
    pub fn open_with(path: &Path, o: StoreOptions) -> Result<Self, StoreError> {
        // Probed once: RocksDB's flushes and reads and the segments use it.
        let direct = options::supports_direct_io(path);
        let (opts, cfs) = options::db_options(o, direct);
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
            let msg = e.to_string();
            // RocksDB names its LOCK file in every lock failure, same process or not.
            if msg.contains("/LOCK") {
                StoreError::Locked {
                    path: path.to_path_buf(),
                }
            } else if msg.contains("No space left") {
                StoreError::DiskFull(msg)
            } else {
                StoreError::Open {
                    path: path.to_path_buf(),
                    reason: msg,
                }
            }
        })?;
        let segments = Segments::open(&path.join("segments"), direct)?;
        let mut store = Store {
            segments,
            db,
            path: path.to_path_buf(),
            audit_head: Mutex::new(([0; 32], 0)),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            unlogged: AtomicBool::new(false),
            order: RwLock::new(()),
        };
        store.audit_head = Mutex::new(store.load_audit_head()?);
        store.recover_segments()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes RocksDB estimates its compactions still have to rewrite, over
    /// every column family: the store's compaction debt (`node health`).
    pub fn pending_compaction_bytes(&self) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for name in ALL_CFS {
            let v = self
                .db
                .property_int_value_cf(self.cf(name), "rocksdb.estimate-pending-compaction-bytes")
                .map_err(StoreError::engine)?;
            total = total.saturating_add(v.unwrap_or(0));
        }
        Ok(total)
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every CF is created at open (create_missing_column_families).
        self.db
            .cf_handle(name)
            .expect("column family created at open") // ok: every name passed here is in ALL_CFS, opened at open
    }

    pub(crate) fn db_get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(self.cf(cf), key).map_err(StoreError::engine)
    }

    pub(crate) fn db_iter<'a>(
        &'a self,
        cf: &str,
        mode: IteratorMode<'a>,
    ) -> impl Iterator<Item = Result<KeyValue, StoreError>> + 'a {
        self.db
            .iterator_cf(self.cf(cf), mode)
            .map(|r| r.map_err(StoreError::engine))
    }
}

impl Drop for Store {
    /// Syncs the segments and records how far (RocksDB then flushes its
    /// memtables as it closes), so the next open re-hashes nothing.
    fn drop(&mut self) {
        if let Err(e) = self.sync_segments(false) {
            tracing::warn!(path = %self.path.display(), "segments not synced at close: {e}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
