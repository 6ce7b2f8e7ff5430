//! The erasure-coded chunks of a backup: for each shard stored as
//! Reed–Solomon pieces instead of whole copies, the scheme and the ids of
//! its pieces, in index order.
//!
//! Why in the manifest: a piece's id is the hash of its bytes, which only
//! the owner saw when it cut the shard, so a restore on a fresh machine
//! needs them from the manifest to fetch pieces by id and check each one
//! before decoding (a wrong piece is then named and skipped, instead of
//! failing the whole decode). Leases, releases and proofs name the pieces
//! too, so every owner operation walks [`Manifest::stored`].
//!
//! A manifest with no stripes is written in format 1, byte for byte as
//! before, so builds that predate pieces read every backup that uses none.

use super::{BackupInfo, Entry, Manifest, ManifestError};
use crate::id::ShardId;
use crate::redundancy::{Scheme, MAX_PIECES};
use serde::{Deserialize, Serialize};

/// One erasure-coded shard: `data + parity` pieces, any `data` of which
/// give the sealed shard `shard` back (`redundancy::stripe::decode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeRef {
    /// The sealed shard's id (what the file's `ChunkRef` names).
    pub shard: ShardId,
    pub data: u8,
    pub parity: u8,
    /// Piece ids, by index: data pieces first, then parity.
    pub pieces: Vec<ShardId>,
}

impl StripeRef {
    pub fn scheme(&self) -> Scheme {
        Scheme::Rs {
            data: self.data,
            parity: self.parity,
        }
    }

    /// Checks the shape a decoder of remote or stored bytes must not trust:
    /// a scheme within bounds and one id per piece.
    pub fn check(&self) -> Result<(), ManifestError> {
        let n = self.data as usize + self.parity as usize;
        if self.data == 0 || self.parity == 0 || n > MAX_PIECES || self.pieces.len() != n {
            return Err(ManifestError::BadStripe(self.shard));
        }
        Ok(())
    }
}

/// What stores one chunk of a backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored<'a> {
    /// Whole copies of the shard, under its own id.
    Copies(ShardId),
    /// Pieces of the shard.
    Pieces(&'a StripeRef),
}

/// A manifest as format 1 reads it (no stripes).
#[derive(Deserialize)]
pub(super) struct ManifestV1 {
    pub info: BackupInfo,
    pub entries: Vec<Entry>,
}

/// A manifest as format 1 writes it: the same bytes as a `ManifestV1`.
#[derive(Serialize)]
pub(super) struct ManifestV1Ref<'a> {
    pub info: &'a BackupInfo,
    pub entries: &'a [Entry],
}

impl Manifest {
    /// How chunk `id` is stored: pieces when the manifest has its stripe,
    /// else copies.
    pub fn stored(&self, id: &ShardId) -> Stored<'_> {
        match self.stripes.binary_search_by(|s| s.shard.cmp(id)) {
            Ok(i) => Stored::Pieces(&self.stripes[i]),
            Err(_) => Stored::Copies(*id),
        }
    }

    /// Sorts the stripes by shard (as [`stored`](Self::stored) needs), drops
    /// duplicates and those no file references.
    pub fn tidy_stripes(&mut self) {
        let used: std::collections::HashSet<ShardId> = self
            .entries
            .iter()
            .flat_map(|e| match &e.kind {
                super::EntryKind::File { chunks, .. } => chunks.iter().map(|c| c.id).collect(),
                _ => Vec::new(),
            })
            .collect();
        self.stripes.retain(|s| used.contains(&s.shard));
        self.stripes.sort_by_key(|s| s.shard);
        self.stripes.dedup_by(|a, b| a.shard == b.shard);
    }

    /// Every id the swarm holds for a file chunk of this manifest: the
    /// chunk's shard, or its pieces (each chunk once).
    pub fn stored_ids(&self) -> Vec<ShardId> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for e in &self.entries {
            if let super::EntryKind::File { chunks, .. } = &e.kind {
                for c in chunks {
                    if !seen.insert(c.id) {
                        continue;
                    }
                    match self.stored(&c.id) {
                        Stored::Copies(id) => out.push(id),
                        Stored::Pieces(s) => out.extend(s.pieces.iter().copied()),
                    }
                }
            }
        }
        out
    }

    /// Checks the stripes of a decoded manifest: each well formed, sorted
    /// by shard without repeats.
    pub(super) fn check_stripes(&self) -> Result<(), ManifestError> {
        for s in &self.stripes {
            s.check()?;
        }
        if self.stripes.windows(2).any(|w| w[0].shard >= w[1].shard) {
            return Err(ManifestError::BadStripe(self.stripes[0].shard));
        }
        Ok(())
    }
}
