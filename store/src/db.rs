//! [`Store`]: the RocksDB database and every operation on it. Thread-safe; share it
//! behind an `Arc`. Writes that touch one shard's metadata take a striped lock so
//! that read-modify-write of leases never loses an update.

use crate::audit::{self, AuditAction, AuditEvent, CF_AUDIT_CHAIN, MAX_AUDIT_LEN};
use crate::error::StoreError;
use crate::meta::{ShardMeta, ShardState, MAX_META_LEN};
use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, ErrorKind, IteratorMode, Options,
    WriteBatch, WriteOptions, DB,
};
use shardnet_protocol::codec;
use shardnet_protocol::envelope::MAX_SHARD_LEN;
use shardnet_protocol::lease::Release;
use shardnet_protocol::{lease, Avoid, Lease, Sealed, ShardId};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const CF_SHARDS: &str = "shards";
const CF_META: &str = "meta";
pub(crate) const CF_SHARDS_NAME: &str = CF_SHARDS;
pub(crate) const CF_META_NAME: &str = CF_META;
pub(crate) const CF_BACKUPS: &str = "backups";
const CF_CHUNKS: &str = "chunks";
const CF_AUDIT: &str = "audit";
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

/// Most peers one shard's placement may avoid.
pub use shardnet_protocol::lease::MAX_AVOID;

/// What `put` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// New shard written.
    Stored,
    /// Already present and healthy; only the lease was merged.
    AlreadyPresent,
    /// A corrupted or quarantined copy was replaced by these verified bytes.
    Repaired,
}

/// Totals over the store.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreStats {
    pub shards: u64,
    pub bytes: u64,
    pub healthy: u64,
    pub corrupted: u64,
    pub quarantined: u64,
    pub backups: u64,
}

pub struct Store {
    db: DB,
    path: PathBuf,
    /// The last audit event's link hash and the next sequence number.
    audit_head: Mutex<([u8; 32], u64)>,
    locks: Vec<Mutex<()>>,
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

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        // Writes skip the WAL (see `write`): flushes must then cover every CF at
        // once, so that a crash never leaves metadata without its shard bytes.
        opts.set_atomic_flush(true);
        opts.set_keep_log_file_num(4);
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
        };
        let next = match store
            .db
            .iterator_cf(store.cf(CF_AUDIT), IteratorMode::End)
            .next()
        {
            Some(Ok((k, _))) => u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])) + 1,
            Some(Err(e)) => return Err(StoreError::engine(e)),
            None => 1,
        };
        // The chain goes on from its last link (none in a store written
        // before the chain existed: it starts at the next event).
        let prev = match store
            .db
            .iterator_cf(store.cf(CF_AUDIT_CHAIN), IteratorMode::End)
            .next()
        {
            Some(Ok((_, v))) if v.len() == 64 => v[32..].try_into().unwrap_or([0; 32]),
            Some(Err(e)) => return Err(StoreError::engine(e)),
            _ => [0; 32],
        };
        store.audit_head = Mutex::new((prev, next));
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
            .expect("column family created at open") // ok: checked length
    }

    pub(crate) fn lock(&self, id: &ShardId) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned stripe only means another thread panicked mid-update; the
        // RocksDB state is still consistent (batches are atomic), so carry on.
        self.locks[id.0[0] as usize % LOCK_STRIPES]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn audit(
        &self,
        batch: &mut WriteBatch,
        action: AuditAction,
        shard: Option<ShardId>,
        detail: String,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().unwrap_or_else(|p| p.into_inner());
        let seq = head.1;
        head.1 += 1;
        let ev = AuditEvent {
            seq,
            at: now(),
            action,
            shard,
            detail,
        };
        let bytes = codec::encode::<_, MAX_AUDIT_LEN>("audit event", &ev)?;
        let hash = audit::link_hash(&head.0, seq, &bytes);
        batch.put_cf(
            self.cf(CF_AUDIT_CHAIN),
            seq.to_be_bytes(),
            audit::link_value(&head.0, &hash),
        );
        batch.put_cf(self.cf(CF_AUDIT), seq.to_be_bytes(), bytes);
        head.0 = hash;
        Ok(())
    }

    /// Applies a batch without the write-ahead log: shards are about 1 MiB each,
    /// and logging them would write every byte to disk twice (measured: the WAL
    /// cost half of backup throughput). Durability comes from [`Store::flush`]:
    /// callers flush before they report anything as stored (a backup before its
    /// catalogue entry; later, a peer before it acknowledges). A crash loses only
    /// unflushed batches, and because flushes are atomic across column families,
    /// it loses them whole: the store stays consistent.
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        self.db.write_opt(batch, &wo).map_err(StoreError::engine)
    }

    /// The metadata of `id`, if stored.
    pub fn meta(&self, id: &ShardId) -> Result<Option<ShardMeta>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_META), id.0)
            .map_err(StoreError::engine)?
        {
            Some(v) => Ok(Some(crate::meta::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Stores bytes received from elsewhere: refused unless they hash to `id`.
    pub fn put_shard(
        &self,
        id: &ShardId,
        bytes: &[u8],
        lease: Lease,
    ) -> Result<PutOutcome, StoreError> {
        let actual = ShardId::of(bytes);
        if actual != *id {
            return Err(StoreError::IdMismatch { id: *id, actual });
        }
        self.put_verified(id, bytes, lease)
    }

    /// Stores a shard sealed in this process (its id is known to be right).
    pub fn put_sealed(&self, shard: &Sealed, lease: Lease) -> Result<PutOutcome, StoreError> {
        self.put_verified(&shard.id(), shard.bytes(), lease)
    }

    fn put_verified(
        &self,
        id: &ShardId,
        bytes: &[u8],
        new_lease: Lease,
    ) -> Result<PutOutcome, StoreError> {
        if bytes.len() > MAX_SHARD_LEN {
            return Err(StoreError::CorruptShard {
                id: *id,
                reason: format!("{} bytes exceed the shard limit", bytes.len()),
            });
        }
        let _guard = self.lock(id);
        let t = now();
        let mut batch = WriteBatch::default();
        let outcome = match self.meta(id)? {
            // Metadata says healthy, but the bytes may have rotted or gone
            // behind the store's back: the verified bytes in hand replace them.
            Some(mut m) if m.state == ShardState::Healthy && !self.bytes_match(id)? => {
                lease::merge(&mut m.leases, new_lease);
                m.verified_at = t;
                m.size = bytes.len() as u32;
                batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
                self.put_meta(&mut batch, id, &m)?;
                let detail = "replaced missing or rotten bytes with verified bytes".to_string();
                self.audit(&mut batch, AuditAction::Repaired, Some(*id), detail)?;
                PutOutcome::Repaired
            }
            Some(mut m) if m.state == ShardState::Healthy => {
                if !lease::merge(&mut m.leases, new_lease) {
                    return Ok(PutOutcome::AlreadyPresent);
                }
                let detail = format!("owner {} until {}", new_lease.owner, new_lease.expires_at);
                self.put_meta(&mut batch, id, &m)?;
                self.audit(&mut batch, AuditAction::LeaseExtended, Some(*id), detail)?;
                PutOutcome::AlreadyPresent
            }
            Some(mut m) => {
                lease::merge(&mut m.leases, new_lease);
                let detail = format!("replaced {} copy with verified bytes", m.state);
                m.state = ShardState::Healthy;
                m.quarantined_at = 0;
                m.verified_at = t;
                m.size = bytes.len() as u32;
                batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
                self.put_meta(&mut batch, id, &m)?;
                self.audit(&mut batch, AuditAction::Repaired, Some(*id), detail)?;
                PutOutcome::Repaired
            }
            None => {
                let m = ShardMeta {
                    size: bytes.len() as u32,
                    state: ShardState::Healthy,
                    stored_at: t,
                    verified_at: t,
                    leases: vec![new_lease],
                    avoid: None,
                    quarantined_at: 0,
                };
                batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
                self.put_meta(&mut batch, id, &m)?;
                let detail = format!(
                    "{} bytes, owner {} until {}",
                    bytes.len(),
                    new_lease.owner,
                    new_lease.expires_at
                );
                self.audit(&mut batch, AuditAction::Stored, Some(*id), detail)?;
                PutOutcome::Stored
            }
        };
        self.write(batch)?;
        Ok(outcome)
    }

    pub(crate) fn put_meta(
        &self,
        batch: &mut WriteBatch,
        id: &ShardId,
        m: &ShardMeta,
    ) -> Result<(), StoreError> {
        let bytes = codec::encode::<_, MAX_META_LEN>("shard metadata", m)?;
        batch.put_cf(self.cf(CF_META), id.0, bytes);
        Ok(())
    }

    /// Reads a shard and checks it against its id. On a mismatch (or an engine
    /// checksum failure) the shard is marked corrupted and an error names it.
    pub fn get_shard(&self, id: &ShardId) -> Result<Vec<u8>, StoreError> {
        let got = self.db.get_pinned_cf(self.cf(CF_SHARDS), id.0);
        let reason = match got {
            Ok(Some(v)) if id.matches(&v) => return Ok(v.to_vec()),
            Ok(Some(v)) => format!("its {} bytes do not hash to its id", v.len()),
            Ok(None) if matches!(self.meta(id), Ok(Some(_))) => {
                "its bytes are missing from the store".to_string()
            }
            Ok(None) => return Err(StoreError::NotFound { id: *id }),
            Err(e) if e.kind() == ErrorKind::Corruption => format!("storage checksum failed: {e}"),
            Err(e) => return Err(StoreError::engine(e)),
        };
        self.mark_corrupted(id, &reason)?;
        Err(StoreError::CorruptShard { id: *id, reason })
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

    /// Whether the stored bytes of `id` exist and hash to it (no state change).
    pub(crate) fn bytes_match(&self, id: &ShardId) -> Result<bool, StoreError> {
        match self.db.get_pinned_cf(self.cf(CF_SHARDS), id.0) {
            Ok(Some(v)) => Ok(id.matches(&v)),
            Ok(None) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Corruption => Ok(false),
            Err(e) => Err(StoreError::engine(e)),
        }
    }

    /// Records that `id`'s bytes are bad. The bytes stay until repaired or pruned.
    pub fn mark_corrupted(&self, id: &ShardId, reason: &str) -> Result<(), StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(());
        };
        if m.state == ShardState::Corrupted {
            return Ok(());
        }
        m.state = ShardState::Corrupted;
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        self.audit(
            &mut batch,
            AuditAction::MarkedCorrupted,
            Some(*id),
            reason.to_string(),
        )?;
        self.write(batch)?;
        self.flush()
    }

    /// Calls `f` for every shard's metadata, in id order, until it returns false.
    pub fn for_each_meta(
        &self,
        mut f: impl FnMut(ShardId, ShardMeta) -> bool,
    ) -> Result<(), StoreError> {
        for item in self.db.iterator_cf(self.cf(CF_META), IteratorMode::Start) {
            let (k, v) = item.map_err(StoreError::engine)?;
            let id = ShardId::from_slice(&k)
                .map_err(|e| StoreError::Engine(format!("bad key in meta: {e}")))?;
            let m = crate::meta::decode(&v)?;
            if !f(id, m) {
                break;
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut s = StoreStats::default();
        self.for_each_meta(|_, m| {
            s.shards += 1;
            s.bytes += m.size as u64;
            match m.state {
                ShardState::Healthy => s.healthy += 1,
                ShardState::Corrupted => s.corrupted += 1,
                ShardState::Quarantined => s.quarantined += 1,
            }
            true
        })?;
        s.backups = self.list_backups()?.len() as u64;
        Ok(s)
    }

    /// The owner's dedup index: shard id and size previously stored for a chunk
    /// key hash, whether or not this node holds the shard itself.
    pub fn lookup_chunk_any(
        &self,
        key_hash: &[u8; 32],
    ) -> Result<Option<(ShardId, u32)>, StoreError> {
        let Some(v) = self
            .db
            .get_pinned_cf(self.cf(CF_CHUNKS), key_hash)
            .map_err(StoreError::engine)?
        else {
            return Ok(None);
        };
        if v.len() != 36 {
            return Ok(None);
        }
        let Ok(id) = ShardId::from_slice(&v[..32]) else {
            return Ok(None);
        };
        let size = u32::from_le_bytes(v[32..36].try_into().expect("4 bytes")); // ok: checked length
        Ok(Some((id, size)))
    }

    /// Like [`Store::lookup_chunk_any`], but only if the shard is held here, healthy.
    pub fn lookup_chunk(&self, key_hash: &[u8; 32]) -> Result<Option<ShardId>, StoreError> {
        let Some((id, _)) = self.lookup_chunk_any(key_hash)? else {
            return Ok(None);
        };
        Ok(match self.meta(&id)? {
            Some(m) if m.state == ShardState::Healthy => Some(id),
            _ => None,
        })
    }

    pub fn index_chunk(
        &self,
        key_hash: &[u8; 32],
        id: &ShardId,
        size: u32,
    ) -> Result<(), StoreError> {
        let mut v = id.0.to_vec();
        v.extend_from_slice(&size.to_le_bytes());
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_CHUNKS), key_hash, v);
        self.write(batch)
    }

    /// Adds a lease to an already stored shard (dedup hit). Returns false if the
    /// shard is not stored healthy here.
    pub fn add_lease(&self, id: &ShardId, new_lease: Lease) -> Result<bool, StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(false);
        };
        if m.state != ShardState::Healthy {
            return Ok(false);
        }
        if lease::merge(&mut m.leases, new_lease) {
            let mut batch = WriteBatch::default();
            self.put_meta(&mut batch, id, &m)?;
            let detail = format!("owner {} until {}", new_lease.owner, new_lease.expires_at);
            self.audit(&mut batch, AuditAction::LeaseExtended, Some(*id), detail)?;
            self.write(batch)?;
        }
        Ok(true)
    }

    /// Applies an owner's verified release to a held shard's leases, and
    /// puts the owner's verified `replacement` lease in its place in the same
    /// write. Returns the shard's size when a lease was dropped (without a
    /// replacement the owner's usage shrinks by it), `None` when none was
    /// (not held, or no such lease).
    pub fn release_lease(
        &self,
        id: &ShardId,
        r: &Release,
        replacement: Option<Lease>,
    ) -> Result<Option<u64>, StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(None);
        };
        if !r.apply(&mut m.leases) {
            return Ok(None);
        }
        if let Some(l) = replacement.filter(|l| l.owner == r.owner) {
            lease::merge(&mut m.leases, l);
        }
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        let detail = format!(
            "owner {} up to {}; {} lease(s) left",
            r.owner,
            r.upto,
            m.leases.len()
        );
        self.audit(&mut batch, AuditAction::LeaseReleased, Some(*id), detail)?;
        self.write(batch)?;
        Ok(Some(m.size as u64))
    }

    /// Makes every write so far durable: flushes all memtables at once (shard
    /// bytes land in blob files) and waits until the files are synced.
    pub fn flush(&self) -> Result<(), StoreError> {
        let cfs = ALL_CFS.map(|n| self.cf(n));
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(true);
        self.db
            .flush_cfs_opt(&cfs.iter().collect::<Vec<_>>(), &fo)
            .map_err(StoreError::engine)
    }

    /// Audit events with `seq >= from`, oldest first, at most `limit`.
    pub fn audit_log(&self, from: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let start = from.to_be_bytes();
        let mode = IteratorMode::From(&start, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_AUDIT), mode).take(limit) {
            let (_, v) = item.map_err(StoreError::engine)?;
            out.push(codec::decode::<AuditEvent, MAX_AUDIT_LEN>(
                "audit event",
                &v,
            )?);
        }
        Ok(out)
    }

    /// Records the owner's signed avoid list of `id`, once: the first list
    /// stays (callers verify it and check its owner holds a lease).
    pub fn set_avoid(&self, id: &ShardId, avoid: &Avoid) -> Result<(), StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(());
        };
        if m.avoid.is_some() {
            return Ok(());
        }
        m.avoid = Some(avoid.clone());
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        self.write(batch)
    }

    /// Test hook: writes bytes under an id without verification, to simulate rot.
    #[doc(hidden)]
    pub fn debug_overwrite_bytes(&self, id: &ShardId, bytes: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
        self.write(batch)
    }
}
