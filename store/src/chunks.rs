//! The owner's dedup index: chunk key hash → the shard stored for it, so an
//! unchanged chunk is neither sealed nor sent again.

use crate::db::{Store, CF_CHUNKS};
use crate::error::StoreError;
use crate::meta::ShardState;
use rocksdb::WriteBatch;
use shardnet_protocol::manifest::StripeRef;
use shardnet_protocol::ShardId;

/// Largest encoded stripe record (32 piece ids and the header).
const MAX_STRIPE_LEN: usize = 2 << 10;

impl Store {
    /// The dedup index's record for a chunk key hash, as stored.
    fn chunk_record(&self, key_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .get_pinned_cf(self.cf(CF_CHUNKS), key_hash)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(StoreError::engine)
    }

    /// The owner's dedup index: shard id and size previously stored for a chunk
    /// key hash, whether or not this node holds the shard itself.
    pub fn lookup_chunk_any(
        &self,
        key_hash: &[u8; 32],
    ) -> Result<Option<(ShardId, u32)>, StoreError> {
        let Some(v) = self.chunk_record(key_hash)? else {
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

    /// The owner's dedup index for a chunk stored as pieces: its stripe and
    /// stored bytes (every piece), under a key that names the scheme too.
    pub fn lookup_stripe(
        &self,
        key_hash: &[u8; 32],
    ) -> Result<Option<(StripeRef, u64)>, StoreError> {
        let Some(v) = self.chunk_record(key_hash)? else {
            return Ok(None);
        };
        // A copy's record (36 bytes), or one this build cannot read: a miss,
        // and the chunk is sealed and stored again.
        if v.len() <= 44 {
            return Ok(None);
        }
        let size = u64::from_le_bytes(v[..8].try_into().expect("8 bytes")); // ok: checked length
        match shardnet_protocol::codec::decode::<StripeRef, MAX_STRIPE_LEN>("stripe", &v[8..]) {
            Ok(s) if s.check().is_ok() => Ok(Some((s, size))),
            _ => Ok(None),
        }
    }

    /// Records `key_hash → stripe` (and the stored bytes of its pieces).
    pub fn index_stripe(
        &self,
        key_hash: &[u8; 32],
        stripe: &StripeRef,
        size: u64,
    ) -> Result<(), StoreError> {
        let mut v = size.to_le_bytes().to_vec();
        v.extend(
            shardnet_protocol::codec::encode::<_, MAX_STRIPE_LEN>("stripe", stripe)
                .map_err(|e| StoreError::Engine(e.to_string()))?,
        );
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_CHUNKS), key_hash, v);
        self.write(batch)
    }
}
