//! The owner's dedup index: chunk key hash → the shard stored for it, so an
//! unchanged chunk is neither sealed nor sent again.

use crate::db::{Store, CF_CHUNKS};
use crate::error::StoreError;
use crate::meta::ShardState;
use rocksdb::WriteBatch;
use shardnet_protocol::ShardId;

impl Store {
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
}
