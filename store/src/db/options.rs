//! How the store's RocksDB is tuned: blob files for shard bytes, direct I/O
//! where the file system allows it, atomic flushes across column families,
//! and the bounds on memtables, WAL and open files. Kept apart from the
//! store's operations so that each setting sits next to the measurement
//! that chose it.

use super::{ALL_CFS, CF_SHARDS};
use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, Options};
use std::path::Path;

/// Values at least this large go to blob files: a ~1 MiB shard is then written
/// once (WAL aside) instead of being rewritten by every compaction level.
const MIN_BLOB_SIZE: u64 = 64 << 10;
/// Blob file target size.
const BLOB_FILE_SIZE: u64 = 256 << 20;
/// Memtable size for shard bytes; two may exist at once, which bounds the
/// store's share of a backup's memory (peak RSS target: 256 MiB).
const SHARD_WRITE_BUFFER: usize = 32 << 20;
/// WAL bytes past which RocksDB flushes the memtables that pin the oldest
/// log: logged groups carry shard bytes, and the small families' memtables
/// would otherwise keep gigabytes of log alive until they filled.
const MAX_TOTAL_WAL: u64 = 256 << 20;

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
    // are still deleted whole. (New shards go to segment files, whose
    // reclaim re-hashes each record it moves: `Store::reclaim_segments`.)
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
pub(super) fn supports_direct_io(dir: &Path) -> bool {
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

/// The database's options and its column families'.
/// `direct`: whether the file system takes `O_DIRECT` ([`supports_direct_io`]).
pub(super) fn db_options(o: StoreOptions, direct: bool) -> (Options, Vec<ColumnFamilyDescriptor>) {
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
    (opts, cfs)
}
