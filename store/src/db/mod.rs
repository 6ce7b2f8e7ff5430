//! [`Store`]: the RocksDB database, its column families and tuning, and the
//! primitives every other module of this crate builds on (batched writes
//! without the WAL, the flush that makes them durable, the audit append, the
//! striped per-shard lock). Thread-safe; share it behind an `Arc`. Writes that
//! touch one shard's metadata take the striped lock so that read-modify-write
//! of leases never loses an update.
//!
//! Two ways to make writes durable, one store: batches skip the WAL and a
//! flush makes them durable (a local backup: a shard's bytes then reach the
//! disk once, in a blob file), or, inside [`Store::logged`], they go through
//! the WAL and one WAL sync makes a whole group durable (a peer's stores:
//! flushing every small group cost 3.8 CPU-s per GB stored in groups of 4
//! shards, the WAL sync 1.5, measured with `store/examples/group_commit.rs`).
//!
//! The operations live beside it by what they touch: shard bytes and
//! metadata (`shards`), leases and avoid lists (`leases`), the owner's dedup
//! index (`chunks`), the audit trail (`audit`), and so on.

use crate::error::StoreError;
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, IteratorMode, Options,
    WriteBatch, WriteOptions, DB,
};
use shardnet_protocol::ShardId;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
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
/// Every column family: `flush` covers them all (a family left out would lose
/// its WAL-less writes in a crash; the transfer queue once was).
const ALL_CFS: [&str; 11] = [
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
];

/// Values at least this large go to blob files: a ~1 MiB shard is then written
/// once (WAL aside) instead of being rewritten by every compaction level.
const MIN_BLOB_SIZE: u64 = 64 << 10;
/// Blob file target size.
const BLOB_FILE_SIZE: u64 = 256 << 20;
/// Memtable size for shard bytes; two may exist at once, which bounds the
/// store's share of a backup's memory (peak RSS target: 256 MiB).
const SHARD_WRITE_BUFFER: usize = 32 << 20;
/// Striped locks serialising metadata read-modify-write per shard.
const LOCK_STRIPES: usize = 64;

/// WAL bytes past which RocksDB flushes the memtables that pin the oldest
/// log: logged groups carry shard bytes, and the small families' memtables
/// would otherwise keep gigabytes of log alive until they filled.
const MAX_TOTAL_WAL: u64 = 256 << 20;

thread_local! {
    /// Set on the thread running a [`Store::logged`] closure: its writes
    /// go through the WAL.
    static LOGGED: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread shares the write order ([`Shared`]).
    static SHARED: Cell<bool> = const { Cell::new(false) };
}

/// Most peers one shard's placement may avoid.
pub use shardnet_protocol::lease::MAX_AVOID;

pub struct Store {
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

/// A shard's stripe lock with the write order shared, taken in that order
/// ([`Store::lock`]). Fields drop in order: the stripe first.
pub(crate) struct ShardGuard<'a> {
    _stripe: std::sync::MutexGuard<'a, ()>,
    _order: Shared<'a>,
}

/// This thread's share of the write order, or nothing when it already has
/// one or holds the order alone (a logged group): a second read of a
/// `RwLock` on one thread deadlocks once a writer waits between the two.
pub(crate) struct Shared<'a>(Option<RwLockReadGuard<'a, ()>>);

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            SHARED.set(false);
        }
    }
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

fn small_cf_options() -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::None);
    let mut t = BlockBasedOptions::default();
    t.set_bloom_filter(10.0, false);
    o.set_block_based_table_factory(&t);
    o
}

fn shard_cf_options() -> Options {
    let mut o = Options::default();
    // Shards are encrypted: compression cannot help.
    o.set_compression_type(DBCompressionType::None);
    o.set_enable_blob_files(true);
    o.set_min_blob_size(MIN_BLOB_SIZE);
    o.set_blob_file_size(BLOB_FILE_SIZE);
    o.set_blob_compression_type(DBCompressionType::None);
    // No blob GC: GC reads and relocates blobs during compaction, and one
    // rotten blob there fails the compaction, which puts the whole database
    // into read-only mode (measured: a node with rotted blob files refused
    // every repair write with "Corruption: Key mismatch when reading blob").
    // A rotten copy must cost one shard, found by scrub or audit and
    // replaced, never the store. Blob files whose shards were all removed
    // are still deleted whole; partly dead files keep their space until a
    // later, corruption-tolerant reclaim (noted for the prune work).
    o.set_enable_blob_gc(false);
    o.set_write_buffer_size(SHARD_WRITE_BUFFER);
    o.set_max_write_buffer_number(2);
    let mut t = BlockBasedOptions::default();
    t.set_bloom_filter(10.0, false);
    o.set_block_based_table_factory(&t);
    o
}

/// Whether files in `dir` (created if missing) can be opened with `O_DIRECT`;
/// some file systems refuse it with `EINVAL`, and RocksDB would then fail only
/// at its first flush.
fn supports_direct_io(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(".direct-io-probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    if !ok {
        tracing::info!(dir = %dir.display(), "file system refuses O_DIRECT: shard reads and flushes go through the page cache");
    }
    ok
}

/// Table and blob files a store keeps open by default. RocksDB's own
/// default keeps every file open: a node holding a terabyte in 256 MiB blob
/// files would hold thousands of descriptors next to its sockets.
pub const MAX_OPEN_FILES: i32 = 512;

/// How a store is opened.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Table and blob files open at once (RocksDB's `max_open_files`: it
    /// reserves 10 of the count for other files, raises anything below 20
    /// to 20, and keeps the handles a flush loaded, so the cap is soft;
    /// -1 keeps every file open).
    pub max_open_files: i32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_open_files: MAX_OPEN_FILES,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    /// [`Store::open`] with `o` (the simulator runs hundreds of stores in
    /// one process and opens each with few files).
    pub fn open_with(path: &Path, o: StoreOptions) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.set_max_open_files(o.max_open_files);
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        // Flushes write blob files, and reads read them, with O_DIRECT where the
        // file system allows it: through the page cache, a backup's bytes landed
        // on memory touched for the first time, which on this VM faults to the
        // host and halved backup throughput (measured: 296-393 MB/s buffered,
        // 610-752 MB/s direct), and restores paid the same on every cold read.
        // Shards are read once per restore, scrub or audit: caching them would
        // only push the operator's own files out of memory.
        let direct = supports_direct_io(path);
        opts.set_use_direct_io_for_flush_and_compaction(direct);
        opts.set_use_direct_reads(direct);
        // Writes skip the WAL (see `write`): flushes must then cover every CF at
        // once, so that a crash never leaves metadata without its shard bytes.
        opts.set_atomic_flush(true);
        opts.set_keep_log_file_num(4);
        opts.set_max_total_wal_size(MAX_TOTAL_WAL);
        let cfs: Vec<ColumnFamilyDescriptor> = ALL_CFS
            .iter()
            .map(|name| {
                let opts = if *name == CF_SHARDS {
                    shard_cf_options()
                } else {
                    small_cf_options()
                };
                ColumnFamilyDescriptor::new(*name, opts)
            })
            .collect();
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
        let mut store = Store {
            db,
            path: path.to_path_buf(),
            audit_head: Mutex::new(([0; 32], 0)),
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            unlogged: AtomicBool::new(false),
            order: RwLock::new(()),
        };
        store.audit_head = Mutex::new(store.load_audit_head()?);
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

    /// Serialises a read-modify-write of one shard's records. The write
    /// order is shared first: the stripe then the order (a plain write
    /// under the stripe) against the order then the stripe (a logged
    /// group's writes) deadlocked.
    pub(crate) fn lock(&self, id: &ShardId) -> ShardGuard<'_> {
        let order = self.shared();
        // A poisoned stripe only means another thread panicked mid-update; the
        // RocksDB state is still consistent (batches are atomic), so carry on.
        let stripe = self.locks[id.0[0] as usize % LOCK_STRIPES]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        ShardGuard {
            _stripe: stripe,
            _order: order,
        }
    }

    /// This thread's share of the write order ([`Shared`]).
    fn shared(&self) -> Shared<'_> {
        if LOGGED.get() || SHARED.get() {
            return Shared(None);
        }
        let guard = self.order.read().unwrap_or_else(|p| p.into_inner());
        SHARED.set(true);
        Shared(Some(guard))
    }

    /// Applies a batch without the write-ahead log: shards are about 1 MiB each,
    /// and logging them would write every byte to disk twice (measured: the WAL
    /// cost half of backup throughput). Durability comes from [`Store::flush`]:
    /// callers flush before they report anything as stored (a backup before its
    /// catalogue entry). A crash loses only unflushed batches, and because
    /// flushes are atomic across column families, it loses them whole: the
    /// store stays consistent. Inside [`Store::logged`] the batch goes through
    /// the WAL instead.
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        if LOGGED.get() {
            return self.db.write_opt(batch, &wo).map_err(StoreError::engine);
        }
        let _shared = self.shared();
        wo.disable_wal(true);
        let r = self.db.write_opt(batch, &wo).map_err(StoreError::engine);
        self.unlogged.store(true, Ordering::Release);
        r
    }

    /// Runs `f`, with every write it makes on this thread going through the
    /// WAL, then syncs the WAL: when this returns `Ok`, all of them are
    /// durable. Earlier writes without the WAL are flushed first if any may
    /// be pending, so a crash never keeps a logged write while losing one
    /// made before it (a lease merged into metadata whose bytes were never
    /// flushed, or a gap in the audit chain). Writes from other threads
    /// wait while `f` runs; keep it short.
    ///
    /// Inside another `logged`, `f` just runs (the outer one syncs). Under a
    /// shard lock (this thread shares the order, and taking it alone would
    /// wait for itself), `f`'s writes are logged and synced, and earlier
    /// writes flushed, but other threads' writes are not held off meanwhile.
    pub fn logged<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                LOGGED.set(false);
            }
        }
        if LOGGED.get() {
            return Ok(f());
        }
        let out = {
            let _alone =
                (!SHARED.get()).then(|| self.order.write().unwrap_or_else(|p| p.into_inner()));
            if self.unlogged.load(Ordering::Acquire) {
                self.flush()?;
            }
            LOGGED.set(true);
            let _reset = Reset;
            f()
        };
        self.db.flush_wal(true).map_err(StoreError::engine)?;
        Ok(out)
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

    /// Makes every write so far durable: flushes all memtables at once (shard
    /// bytes land in blob files) and waits until the files are synced.
    pub fn flush(&self) -> Result<(), StoreError> {
        // Cleared first: a write racing with this flush sets it again.
        self.unlogged.store(false, Ordering::Release);
        let cfs = ALL_CFS.map(|n| self.cf(n));
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(true);
        let r = self
            .db
            .flush_cfs_opt(&cfs.iter().collect::<Vec<_>>(), &fo)
            .map_err(StoreError::engine);
        if r.is_err() {
            self.unlogged.store(true, Ordering::Release);
        }
        r
    }
}

#[cfg(test)]
mod tests;
