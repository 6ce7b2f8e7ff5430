//! Shard bytes and their metadata: verified puts (bytes must hash to their
//! id), reads that check the bytes and mark rot, corruption marks, the metadata
//! scan and the store's totals.

use crate::audit::AuditAction;
use crate::db::{now, Store, CF_META_NAME as CF_META, CF_SHARDS_NAME as CF_SHARDS};
use crate::error::StoreError;
use crate::locations::Held;
use crate::meta::{ShardMeta, ShardState, MAX_META_LEN};
use crate::segments::SEGMENT_MIN;
use rocksdb::{IteratorMode, WriteBatch};
use shardnet_protocol::codec;
use shardnet_protocol::envelope::MAX_SHARD_LEN;
use shardnet_protocol::{lease, Lease, Sealed, ShardId};

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

/// Bytes a shard's write batch holds beyond the shard: its metadata and
/// an audit entry (a batch that has to grow copies the shard again).
const BATCH_SLACK: usize = 16 << 10;

impl Store {
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
        // Room for the bytes (when they stay inline), their metadata and an
        // audit entry: a batch that grows copies the shard again each time.
        let inline = if bytes.len() < SEGMENT_MIN {
            bytes.len()
        } else {
            0
        };
        let mut batch = WriteBatch::with_capacity_bytes(inline + BATCH_SLACK);
        let mut staged = None;
        let outcome = match self.meta(id)? {
            // Metadata says healthy, but the bytes may have rotted or gone
            // behind the store's back: the verified bytes in hand replace them.
            Some(mut m) if m.state == ShardState::Healthy && !self.bytes_match(id)? => {
                lease::merge(&mut m.leases, new_lease);
                m.verified_at = t;
                m.size = bytes.len() as u32;
                staged = Some(self.stage_bytes(&mut batch, id, bytes, true)?);
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
                staged = Some(self.stage_bytes(&mut batch, id, bytes, true)?);
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
                    stripe: None,
                };
                staged = Some(self.stage_bytes(&mut batch, id, bytes, false)?);
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
        if let Some(s) = staged {
            self.commit_bytes(s);
            self.flush_if_due()?;
        }
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
        let reason = match self.held(id)? {
            Held::Good(v) => return Ok(v),
            Held::Bad(why) => why,
            Held::Absent if matches!(self.meta(id), Ok(Some(_))) => {
                "its bytes are missing from the store".to_string()
            }
            Held::Absent => return Err(StoreError::NotFound { id: *id }),
        };
        self.mark_corrupted(id, &reason)?;
        Err(StoreError::CorruptShard { id: *id, reason })
    }

    /// Whether the stored bytes of `id` exist and hash to it (no state change).
    pub(crate) fn bytes_match(&self, id: &ShardId) -> Result<bool, StoreError> {
        Ok(matches!(self.held(id)?, Held::Good(_)))
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

    /// Test hook: writes bytes under an id without verification, to simulate rot.
    #[doc(hidden)]
    pub fn debug_overwrite_bytes(&self, id: &ShardId, bytes: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        let staged = self.unstage_bytes(&mut batch, id)?;
        batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
        self.write(batch)?;
        self.commit_bytes(staged);
        Ok(())
    }
}
