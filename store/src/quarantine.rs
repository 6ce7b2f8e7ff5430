//! Quarantine: the only way a healthy copy leaves this store. A quarantined
//! copy keeps its bytes (and its place in `used`) but is neither served nor
//! counted; it goes back to healthy if the copies elsewhere fail their proofs,
//! and is purged only on the node's proof-backed decision
//! (`shardnet_protocol::purge`), with the proofs named in the audit log.

use crate::audit::AuditAction;
use crate::db::{now, Store, CF_META_NAME};
use crate::error::StoreError;
use crate::meta::{ShardMeta, ShardState};
use rocksdb::WriteBatch;
use shardnet_protocol::ShardId;

impl Store {
    /// Moves a healthy copy to quarantine; `why` goes to the audit log.
    /// Returns the metadata as quarantined, or `None` if the copy is not
    /// here or not healthy.
    pub fn quarantine(&self, id: &ShardId, why: &str) -> Result<Option<ShardMeta>, StoreError> {
        self.quarantine_copy(id, why, false)
    }

    /// [`Store::quarantine`], and with `corrupted_too` a corrupted copy as
    /// well (prune's corrupted class: its bytes are kept, for a rollback,
    /// like any other copy's).
    pub fn quarantine_copy(
        &self,
        id: &ShardId,
        why: &str,
        corrupted_too: bool,
    ) -> Result<Option<ShardMeta>, StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(None);
        };
        let corrupted_ok = corrupted_too && m.state == ShardState::Corrupted;
        if m.state != ShardState::Healthy && !corrupted_ok {
            return Ok(None);
        }
        m.state = ShardState::Quarantined;
        m.quarantined_at = now();
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        self.audit(
            &mut batch,
            AuditAction::Quarantined,
            Some(*id),
            why.to_string(),
        )?;
        self.write(batch)?;
        Ok(Some(m))
    }

    /// Brings a quarantined copy back to service after re-hashing its bytes:
    /// healthy if they still match, corrupted otherwise. Returns the new
    /// state, or `None` if the copy is not here or not quarantined.
    pub fn unquarantine(&self, id: &ShardId, why: &str) -> Result<Option<ShardState>, StoreError> {
        let _guard = self.lock(id);
        let Some(mut m) = self.meta(id)? else {
            return Ok(None);
        };
        if m.state != ShardState::Quarantined {
            return Ok(None);
        }
        let ok = self.bytes_match(id)?;
        m.state = if ok {
            ShardState::Healthy
        } else {
            ShardState::Corrupted
        };
        m.quarantined_at = 0;
        if ok {
            m.verified_at = now();
        }
        let mut batch = WriteBatch::default();
        self.put_meta(&mut batch, id, &m)?;
        let detail = format!("{why}; bytes re-hashed: {}", m.state);
        self.audit(&mut batch, AuditAction::Unquarantined, Some(*id), detail)?;
        self.write(batch)?;
        self.flush()?;
        Ok(Some(m.state))
    }

    /// Deletes a quarantined copy's bytes. `proofs` names the proven copies
    /// the decision relied on (audit log). Refuses anything not quarantined.
    pub fn purge(&self, id: &ShardId, proofs: &str) -> Result<Option<ShardMeta>, StoreError> {
        let _guard = self.lock(id);
        let Some(m) = self.meta(id)? else {
            return Ok(None);
        };
        if m.state != ShardState::Quarantined {
            return Ok(None);
        }
        let mut batch = WriteBatch::default();
        let staged = self.unstage_bytes(&mut batch, id)?;
        batch.delete_cf(self.cf(CF_META_NAME), id.0);
        let detail = format!(
            "{} bytes, quarantined at {}; proven copies: {proofs}",
            m.size, m.quarantined_at
        );
        self.audit(&mut batch, AuditAction::Purged, Some(*id), detail)?;
        self.write(batch)?;
        self.commit_bytes(staged);
        Ok(Some(m))
    }
}
