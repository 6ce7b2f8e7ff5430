//! Where a shard's bytes live, seen from the store: inline in RocksDB
//! (`shards`, shards under 64 KiB and stores written before segments) or in
//! a segment record whose location the `locations` family keeps. Here are
//! the one read path over both, the staging of new bytes into a write
//! batch, the segment sync that precedes every flush and WAL sync, and the
//! check at open of records a crash may have cut off.

use crate::db::{Store, CF_LOCATIONS, CF_SHARDS_NAME as CF_SHARDS, CF_STATE};
use crate::error::StoreError;
use crate::segments::{past_mark, Location, ReadError, SEGMENT_MIN};
use rocksdb::{ErrorKind, IteratorMode, WriteBatch, WriteOptions};
use shardnet_protocol::ShardId;
use std::collections::HashMap;

/// Prefix of the `state` keys holding each segment's synced mark.
const MARK_PREFIX: &[u8] = b"segment-synced/";

fn mark_key(segment: u32) -> Vec<u8> {
    let mut k = MARK_PREFIX.to_vec();
    k.extend_from_slice(&segment.to_be_bytes());
    k
}

/// What the store holds for a shard's bytes.
pub(crate) enum Held {
    /// Bytes that hash to the id.
    Good(Vec<u8>),
    /// Bytes missing or wrong, and why.
    Bad(String),
    /// No bytes recorded at all.
    Absent,
}

impl Store {
    /// The segment location of `id`: `Err` with why when its row is damaged.
    pub(crate) fn location(
        &self,
        id: &ShardId,
    ) -> Result<Option<Result<Location, String>>, StoreError> {
        Ok(self.db_get(CF_LOCATIONS, &id.0)?.map(|v| {
            Location::decode(&v).ok_or_else(|| "its location in the index is damaged".into())
        }))
    }

    /// The bytes of `id`, checked against the id.
    pub(crate) fn held(&self, id: &ShardId) -> Result<Held, StoreError> {
        self.held_at(id, self.location(id)?)
    }

    /// [`Store::held`] from the location `at` read earlier.
    pub(crate) fn held_at(
        &self,
        id: &ShardId,
        mut at: Option<Result<Location, String>>,
    ) -> Result<Held, StoreError> {
        let mut tries = 0;
        while let Some(Ok(loc)) = at {
            let bad = match self.segments.read(id, &loc) {
                Ok(v) if id.matches(&v) => return Ok(Held::Good(v)),
                Ok(v) => format!("its {} bytes do not hash to its id", v.len()),
                Err(ReadError::Bad(why)) => why,
                Err(ReadError::Io(e)) => return Err(e),
            };
            // Reads take no lock: a reclaim may have moved the record (and
            // deleted its old segment) or a purge removed it meanwhile. Only
            // a record still where it was read is a bad copy.
            let now = self.location(id)?;
            tries += 1;
            if now == at || tries >= 3 {
                return Ok(Held::Bad(bad));
            }
            at = now;
        }
        if let Some(Err(why)) = at {
            return Ok(Held::Bad(why));
        }
        match self.db.get_pinned_cf(self.cf(CF_SHARDS), id.0) {
            Ok(Some(v)) if id.matches(&v) => Ok(Held::Good(v.to_vec())),
            Ok(Some(v)) => Ok(Held::Bad(format!(
                "its {} bytes do not hash to its id",
                v.len()
            ))),
            Ok(None) => Ok(Held::Absent),
            Err(e) if e.kind() == ErrorKind::Corruption => {
                Ok(Held::Bad(format!("storage checksum failed: {e}")))
            }
            Err(e) => Err(StoreError::engine(e)),
        }
    }

    /// Writes `bytes` where a shard of their size goes and adds the record
    /// to `batch`, dropping any other place `id`'s bytes had. Returns the
    /// record they replace, for [`Store::commit_bytes`] once the batch is
    /// written.
    pub(crate) fn stage_bytes(
        &self,
        batch: &mut WriteBatch,
        id: &ShardId,
        bytes: &[u8],
        replacing: bool,
    ) -> Result<Staged, StoreError> {
        let old = if replacing {
            self.location(id)?.and_then(Result::ok)
        } else {
            None
        };
        if bytes.len() < SEGMENT_MIN {
            batch.put_cf(self.cf(CF_SHARDS), id.0, bytes);
            if replacing {
                batch.delete_cf(self.cf(CF_LOCATIONS), id.0);
            }
            return Ok(Staged { old });
        }
        let loc = self.segments.append(id, bytes)?;
        batch.put_cf(self.cf(CF_LOCATIONS), id.0, loc.encode());
        if replacing {
            batch.delete_cf(self.cf(CF_SHARDS), id.0);
        }
        Ok(Staged { old })
    }

    /// Drops `id`'s bytes in `batch`, wherever they are.
    pub(crate) fn unstage_bytes(
        &self,
        batch: &mut WriteBatch,
        id: &ShardId,
    ) -> Result<Staged, StoreError> {
        batch.delete_cf(self.cf(CF_SHARDS), id.0);
        batch.delete_cf(self.cf(CF_LOCATIONS), id.0);
        Ok(Staged {
            old: self.location(id)?.and_then(Result::ok),
        })
    }

    /// Releases the record a staged batch replaced, once it is written.
    pub(crate) fn commit_bytes(&self, s: Staged) {
        if let Some(loc) = &s.old {
            self.segments.removed(loc);
        }
    }

    /// Syncs every segment written since the last sync, then records the
    /// new marks (through the WAL when `logged`). Runs before the flush or
    /// WAL sync that makes their locations durable.
    pub(crate) fn sync_segments(&self, logged: bool) -> Result<(), StoreError> {
        let marks = self.segments.sync()?;
        if marks.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (segment, end) in marks {
            batch.put_cf(self.cf(CF_STATE), mark_key(segment), end.to_le_bytes());
        }
        let mut wo = WriteOptions::default();
        wo.disable_wal(!logged);
        self.db.write_opt(batch, &wo).map_err(StoreError::engine)
    }

    /// At open: counts each segment's live records, deletes segment files
    /// with none, and re-hashes every record past its segment's synced mark
    /// (its location may have reached the disk before its bytes did). Bad
    /// ones are marked corrupted: no one was told they were stored, but the
    /// owner's dedup index may point at them, and a corrupted copy is
    /// replaced by the next put of the same bytes.
    pub(crate) fn recover_segments(&self) -> Result<(), StoreError> {
        let mut marks = HashMap::new();
        for item in self.db_iter(
            CF_STATE,
            IteratorMode::From(MARK_PREFIX, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item?;
            let Some(seg) = k.strip_prefix(MARK_PREFIX) else {
                break;
            };
            if let (Ok(s), Ok(e)) = (<[u8; 4]>::try_from(seg), <[u8; 8]>::try_from(&*v)) {
                marks.insert(u32::from_be_bytes(s), u64::from_le_bytes(e));
            }
        }
        let mut live: HashMap<u32, u64> = HashMap::new();
        let mut ends: HashMap<u32, u64> = HashMap::new();
        let mut suspect = Vec::new();
        for item in self.db_iter(CF_LOCATIONS, IteratorMode::Start) {
            let (k, v) = item?;
            let Ok(id) = ShardId::from_slice(&k) else {
                continue;
            };
            let Some(loc) = Location::decode(&v) else {
                continue;
            };
            *live.entry(loc.segment).or_insert(0) += loc.span();
            let end = ends.entry(loc.segment).or_insert(0);
            *end = (*end).max(loc.end());
            if past_mark(&loc, &marks) {
                suspect.push((id, loc.segment));
            }
        }
        self.segments.load(live, ends.clone())?;
        let mut bad = 0;
        let mut checked = std::collections::BTreeSet::new();
        for (id, segment) in &suspect {
            if let Held::Bad(why) = self.held(id)? {
                let why = format!("written just before a crash: {why}");
                self.mark_corrupted(id, &why)?;
                bad += 1;
            }
            checked.insert(*segment);
        }
        if !suspect.is_empty() {
            tracing::info!(
                checked = suspect.len(),
                bad,
                "re-hashed the segment records written since the last sync"
            );
            // Checked once: their segments are marked as far as they go.
            let mut batch = WriteBatch::default();
            for s in checked {
                let end = ends.get(&s).copied().unwrap_or(0);
                batch.put_cf(self.cf(CF_STATE), mark_key(s), end.to_le_bytes());
            }
            self.write(batch)?;
            self.flush()?;
        }
        Ok(())
    }
}

/// Bytes staged in a write batch: the segment record they replace.
#[must_use = "commit_bytes releases the replaced record once the batch is written"]
pub(crate) struct Staged {
    old: Option<Location>,
}
