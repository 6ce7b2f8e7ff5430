//! Space back from partly dead segments: a copy-forward of their live
//! records into the active segment, after which the emptied segment is
//! deleted at the flush that makes the new locations durable.
//!
//! A segment is only deleted whole, once no location names it, so without
//! this a segment with one live shard in 128 MiB kept all of it (blob files
//! without RocksDB's blob GC had the same gap). Each record is re-read and
//! re-hashed before it moves, under its shard's lock; a record that does
//! not hash to its id is left where it is for the scrub to mark (its copy
//! is bad either way), and its segment waits until it is repaired or
//! purged. Nothing is deleted before its copy is durable elsewhere on disk.

use crate::db::{Store, CF_LOCATIONS};
use crate::error::StoreError;
use crate::segments::{Location, ReadError};
use rocksdb::{IteratorMode, WriteBatch};
use shardnet_protocol::ShardId;
use std::collections::HashMap;

/// What one reclaim pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SegmentReclaim {
    /// Segments whose live records were all moved (deleted at the flush).
    pub segments_emptied: u64,
    /// Records moved, and their bytes.
    pub records_moved: u64,
    pub bytes_moved: u64,
    /// Records left in place because they did not hash to their id.
    pub records_bad: u64,
}

impl Store {
    /// Moves the live records of the sparsest segments forward, up to
    /// `max_bytes` of them (the disk is shared with backups and peers), then
    /// flushes: the moved records are synced, their new locations made
    /// durable, and the emptied segments deleted.
    pub fn reclaim_segments(&self, max_bytes: u64) -> Result<SegmentReclaim, StoreError> {
        let mut out = SegmentReclaim::default();
        let sparse = self.segments.sparse();
        if sparse.is_empty() {
            return Ok(out);
        }
        let rank: HashMap<u32, usize> = sparse.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let mut records: Vec<(usize, ShardId, Location)> = Vec::new();
        for item in self.db_iter(CF_LOCATIONS, IteratorMode::Start) {
            let (k, v) = item?;
            let (Ok(id), Some(loc)) = (ShardId::from_slice(&k), Location::decode(&v)) else {
                continue;
            };
            if let Some(r) = rank.get(&loc.segment) {
                records.push((*r, id, loc));
            }
        }
        records.sort_by_key(|(r, _, loc)| (*r, loc.offset));
        let mut left: HashMap<u32, usize> = HashMap::new();
        for (_, _, loc) in &records {
            *left.entry(loc.segment).or_insert(0) += 1;
        }
        for (_, id, loc) in records {
            if out.bytes_moved >= max_bytes {
                break;
            }
            if !self.move_record(&id, &loc)? {
                out.records_bad += 1;
                continue;
            }
            out.records_moved += 1;
            out.bytes_moved += loc.len as u64;
            let n = left.entry(loc.segment).or_insert(1);
            *n -= 1;
            if *n == 0 {
                out.segments_emptied += 1;
            }
        }
        self.flush()?;
        if out.records_moved > 0 {
            tracing::info!(
                segments = out.segments_emptied,
                records = out.records_moved,
                bytes = out.bytes_moved,
                "moved live records out of sparse segments"
            );
        }
        Ok(out)
    }

    /// Moves one record if it is still at `loc` and hashes to `id`: false
    /// when it is bad (left in place). A record moved or removed meanwhile
    /// counts as moved.
    fn move_record(&self, id: &ShardId, loc: &Location) -> Result<bool, StoreError> {
        let _guard = self.lock(id);
        if !matches!(self.location(id)?, Some(Ok(now)) if now == *loc) {
            return Ok(true);
        }
        let bytes = match self.segments.read(id, loc) {
            Ok(b) if id.matches(&b) => b,
            Ok(_) | Err(ReadError::Bad(_)) => return Ok(false),
            Err(ReadError::Io(e)) => return Err(e),
        };
        let mut batch = WriteBatch::default();
        let staged = self.stage_bytes(&mut batch, id, &bytes, true)?;
        self.write(batch)?;
        self.commit_bytes(staged);
        Ok(true)
    }
}
