//! Leases on held shards: adding one (a dedup hit), applying an owner's
//! signed release, the owner's signed avoid list, and a piece's signed
//! stripe record.

use crate::audit::AuditAction;
use crate::db::Store;
use crate::error::StoreError;
use crate::meta::ShardState;
use rocksdb::WriteBatch;
use shardnet_protocol::lease::Release;
use shardnet_protocol::lease::StripeRecord;
use shardnet_protocol::{lease, Avoid, Lease, ShardId};

impl Store {
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

    /// Keeps the owner's signed stripe record of piece `id` (the caller has
    /// verified it for this piece): the first, or one that runs longer (a
    /// renewal). Returns false when the piece is not held healthy here.
    pub fn set_stripe(&self, id: &ShardId, record: &StripeRecord) -> Result<bool, StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(false);
        };
        if m.state != ShardState::Healthy {
            return Ok(false);
        }
        if m.stripe
            .as_ref()
            .is_some_and(|r| r.expires_at >= record.expires_at)
        {
            return Ok(true);
        }
        m.stripe = Some(Box::new(record.clone()));
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        self.write(batch)?;
        Ok(true)
    }
}
