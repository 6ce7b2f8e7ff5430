//! The owner's catalogue as this store keeps it: the backups made through
//! this node (and their tombstones once deleted), and the signed catalogue
//! records this node holds for the swarm's owners.

use crate::audit::AuditAction;
use crate::db::{Store, CF_BACKUPS, CF_CATALOGUES, CF_STATE};
use crate::error::StoreError;
use rocksdb::{IteratorMode, WriteBatch};
use shardnet_protocol::catalogue::{
    CatalogueEntry, SignedCatalogue, Tombstone, MAX_CATALOGUE_LEN, MAX_ENTRY_LEN,
};
use shardnet_protocol::codec;
use shardnet_protocol::{BackupId, ShardId};

impl Store {
    /// Records a completed backup (flushed: the backup exists once this returns).
    pub fn put_backup(&self, entry: &CatalogueEntry) -> Result<(), StoreError> {
        let bytes = codec::encode::<_, MAX_ENTRY_LEN>("catalogue entry", entry)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_BACKUPS), entry.id.0, bytes);
        let detail = format!(
            "{:?} {} ({} shards)",
            entry.info.name, entry.info.tier, entry.shards
        );
        self.audit(&mut batch, AuditAction::BackupAdded, Some(entry.id), detail)?;
        self.write(batch)?;
        self.flush()
    }

    /// Removes a backup's entry and keeps a tombstone in its place, so that
    /// no catalogue record read later brings it back. Flushed.
    pub fn delete_backup(&self, t: &Tombstone) -> Result<(), StoreError> {
        let name = self.get_backup(&t.id)?.map(|e| e.info.name);
        let bytes = codec::encode::<_, 1024>("tombstone", t)?;
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_BACKUPS), t.id.0);
        batch.put_cf(self.cf(CF_STATE), tombstone_key(&t.id), bytes);
        let detail = match name {
            Some(n) => format!("{n:?}"),
            None => "not listed on this node".to_string(),
        };
        self.audit(&mut batch, AuditAction::BackupDeleted, Some(t.id), detail)?;
        self.write(batch)?;
        self.flush()
    }

    /// `keys rotate`: the entries of the old owner key give way to those of
    /// the new one (`moved`: old id, new entry), in one flushed write. No
    /// tombstone: the old ids belong to the retired key's catalogue.
    pub fn rotate_backups(&self, moved: &[(BackupId, CatalogueEntry)]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for (old, new) in moved {
            let bytes = codec::encode::<_, MAX_ENTRY_LEN>("catalogue entry", new)?;
            batch.delete_cf(self.cf(CF_BACKUPS), old.0);
            batch.put_cf(self.cf(CF_BACKUPS), new.id.0, bytes);
            let detail = format!("{:?} was {old}", new.info.name);
            self.audit(&mut batch, AuditAction::KeyRotated, Some(new.id), detail)?;
        }
        self.write(batch)?;
        self.flush()
    }

    /// Every backup deleted through this node.
    pub fn tombstones(&self) -> Result<Vec<Tombstone>, StoreError> {
        let prefix = TOMBSTONE_PREFIX.as_bytes();
        let mode = IteratorMode::From(prefix, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db_iter(CF_STATE, mode) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(codec::decode::<Tombstone, 1024>("tombstone", &v)?);
        }
        Ok(out)
    }

    pub fn get_backup(&self, id: &BackupId) -> Result<Option<CatalogueEntry>, StoreError> {
        match self.db_get(CF_BACKUPS, &id.0)? {
            Some(v) => Ok(Some(codec::decode::<_, MAX_ENTRY_LEN>(
                "catalogue entry",
                &v,
            )?)),
            None => Ok(None),
        }
    }

    /// Every catalogue entry, oldest first (deleted ones are gone).
    pub fn list_backups(&self) -> Result<Vec<CatalogueEntry>, StoreError> {
        let mut out = Vec::new();
        for item in self.db_iter(CF_BACKUPS, IteratorMode::Start) {
            let (_, v) = item?;
            out.push(codec::decode::<CatalogueEntry, MAX_ENTRY_LEN>(
                "catalogue entry",
                &v,
            )?);
        }
        out.sort_by_key(|e| (e.info.created_at, e.id));
        Ok(out)
    }

    /// Keeps an owner's signed catalogue (held for the swarm) if it is newer than
    /// the one held; the caller has verified its signature. Returns whether it
    /// was kept. Flushed.
    pub fn put_catalogue(&self, c: &SignedCatalogue) -> Result<bool, StoreError> {
        let _guard = self.lock(&ShardId(c.owner));
        if let Some(old) = self.get_catalogue(&c.owner)? {
            if old.seq >= c.seq {
                return Ok(false);
            }
        }
        let bytes = codec::encode::<_, { MAX_CATALOGUE_LEN + 4096 }>("signed catalogue", c)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_CATALOGUES), c.owner, bytes);
        self.write(batch)?;
        self.flush()?;
        Ok(true)
    }

    pub fn get_catalogue(&self, owner: &[u8; 32]) -> Result<Option<SignedCatalogue>, StoreError> {
        match self.db_get(CF_CATALOGUES, owner)? {
            Some(v) => Ok(Some(codec::decode::<_, { MAX_CATALOGUE_LEN + 4096 }>(
                "signed catalogue",
                &v,
            )?)),
            None => Ok(None),
        }
    }
}

const TOMBSTONE_PREFIX: &str = "catalogue/tombstone/";

fn tombstone_key(id: &BackupId) -> Vec<u8> {
    let mut k = TOMBSTONE_PREFIX.as_bytes().to_vec();
    k.extend_from_slice(&id.0);
    k
}
