//! What the background scrub needs from the store: held shards page by page
//! in id order from a cursor (so a scrub resumes where it stopped, across
//! restarts), and one shard re-read and re-hashed, marked corrupted at once
//! when its bytes are missing or wrong.

use crate::db::{Store, CF_META_NAME};
use crate::error::StoreError;
use crate::meta::{ShardMeta, ShardState};
use rocksdb::{Direction, IteratorMode};
use shardnet_protocol::ShardId;

/// What a scrub found for one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScrubOutcome {
    /// The bytes hash to the id (this many bytes read).
    Healthy(u64),
    /// Bad bytes, now marked corrupted (with why).
    Corrupted(String),
    /// Nothing to check: gone, or already marked corrupted.
    Skipped,
}

impl Store {
    /// Up to `limit` shards with ids after `after` (from the start when
    /// `None`), in id order, with their metadata.
    pub fn meta_page(
        &self,
        after: Option<&ShardId>,
        limit: usize,
    ) -> Result<Vec<(ShardId, ShardMeta)>, StoreError> {
        let mode = match after {
            Some(id) => IteratorMode::From(&id.0, Direction::Forward),
            None => IteratorMode::Start,
        };
        let mut out = Vec::new();
        for item in self.db_iter(CF_META_NAME, mode) {
            let (k, v) = item?;
            let id = ShardId::from_slice(&k)
                .map_err(|e| StoreError::Engine(format!("bad key in meta: {e}")))?;
            if Some(&id) == after {
                continue;
            }
            out.push((id, crate::meta::decode(&v)?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Re-reads and re-hashes the stored bytes of `id` (healthy or
    /// quarantined copies); bad bytes are marked corrupted on the spot.
    pub fn scrub_shard(&self, id: &ShardId) -> Result<ScrubOutcome, StoreError> {
        match self.meta(id)? {
            None => return Ok(ScrubOutcome::Skipped),
            Some(m) if m.state == ShardState::Corrupted => return Ok(ScrubOutcome::Skipped),
            Some(_) => {}
        }
        match self.get_shard(id) {
            Ok(bytes) => Ok(ScrubOutcome::Healthy(bytes.len() as u64)),
            Err(StoreError::CorruptShard { reason, .. }) => Ok(ScrubOutcome::Corrupted(reason)),
            Err(StoreError::NotFound { .. }) => Ok(ScrubOutcome::Skipped),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardnet_protocol::{Lease, OwnerId};

    fn shard(i: u8) -> (ShardId, Vec<u8>) {
        let bytes = vec![i; 1000 + i as usize];
        (ShardId::of(&bytes), bytes)
    }

    #[test]
    fn pages_resume_after_the_cursor_and_rot_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lease = Lease {
            owner: OwnerId([1; 32]),
            expires_at: u64::MAX / 2,
            copies: 3,
            sig: shardnet_protocol::lease::Sig([0; 64]),
        };
        let mut ids: Vec<ShardId> = (0..10u8)
            .map(|i| {
                let (id, b) = shard(i);
                store.put_shard(&id, &b, lease).unwrap();
                id
            })
            .collect();
        ids.sort();
        let first = store.meta_page(None, 4).unwrap();
        assert_eq!(first.iter().map(|x| x.0).collect::<Vec<_>>(), ids[..4]);
        let next = store.meta_page(Some(&ids[3]), 100).unwrap();
        assert_eq!(next.iter().map(|x| x.0).collect::<Vec<_>>(), ids[4..]);
        assert!(store.meta_page(Some(&ids[9]), 10).unwrap().is_empty());

        assert!(matches!(
            store.scrub_shard(&ids[2]).unwrap(),
            ScrubOutcome::Healthy(_)
        ));
        store.debug_overwrite_bytes(&ids[2], b"rot").unwrap();
        assert!(matches!(
            store.scrub_shard(&ids[2]).unwrap(),
            ScrubOutcome::Corrupted(_)
        ));
        assert_eq!(
            store.meta(&ids[2]).unwrap().unwrap().state,
            ShardState::Corrupted
        );
        assert_eq!(store.scrub_shard(&ids[2]).unwrap(), ScrubOutcome::Skipped);
    }
}
