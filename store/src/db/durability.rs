//! The store's write order and durability: a shard's striped lock, writes
//! without the WAL made durable by an atomic flush, and logged groups whose
//! writes one WAL sync makes durable, ordered so that a crash never keeps a
//! logged write while losing an earlier unlogged one.

use super::{Store, ALL_CFS, LOCK_STRIPES};
use crate::error::StoreError;
use crate::segments::AUTO_FLUSH;
use rocksdb::{WriteBatch, WriteOptions};
use shardnet_protocol::ShardId;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::RwLockReadGuard;

thread_local! {
    /// Set on the thread running a [`Store::logged`] closure: its writes
    /// go through the WAL.
    static LOGGED: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread shares the write order ([`Shared`]).
    static SHARED: Cell<bool> = const { Cell::new(false) };
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

impl Store {
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
            let out = f();
            // Records before the locations that name them.
            self.sync_segments(true)?;
            out
        };
        self.db.flush_wal(true).map_err(StoreError::engine)?;
        Ok(out)
    }

    /// Flushes when segments took [`AUTO_FLUSH`] bytes since the last sync
    /// (not inside a logged group: its end syncs).
    pub(crate) fn flush_if_due(&self) -> Result<(), StoreError> {
        if !LOGGED.get() && self.segments.unsynced() >= AUTO_FLUSH {
            return self.flush();
        }
        Ok(())
    }

    /// Makes every write so far durable: syncs the segment files, then
    /// flushes all memtables at once and waits until the files are synced.
    pub fn flush(&self) -> Result<(), StoreError> {
        // Cleared first: a write racing with this flush sets it again.
        self.unlogged.store(false, Ordering::Release);
        // Segment records before the locations that name them.
        if let Err(e) = self.sync_segments(false) {
            self.unlogged.store(true, Ordering::Release);
            return Err(e);
        }
        let cfs = ALL_CFS.map(|n| self.cf(n));
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(true);
        let r = self
            .db
            .flush_cfs_opt(&cfs.iter().collect::<Vec<_>>(), &fo)
            .map_err(StoreError::engine);
        match r {
            // Emptied segments go once their last location's removal is durable.
            Ok(()) => self.segments.delete_doomed(),
            Err(_) => self.unlogged.store(true, Ordering::Release),
        }
        r
    }
}
