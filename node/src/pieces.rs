//! Reading chunks stored as erasure-coded pieces: [`Striped`] wraps any
//! [`ShardSource`] with a manifest's stripes, so a restore, a full verify
//! or a re-encryption asks for a chunk by its shard id as before and gets
//! the sealed shard back from any `k` of its pieces.
//!
//! Data pieces are asked for first (decoding them is a copy), `k` at a
//! time; each piece is checked by its id (the source re-hashes it) and by
//! its header against the manifest's stripe before it counts, and a piece
//! that fails is replaced by the next one, parity included. `decode` then
//! checks the shard against its id, so a holder that lies costs a fetch,
//! never a wrong byte.

use crate::shards::{ShardSource, SourceError};
use shardnet_protocol::manifest::{Manifest, Stored, StripeRef};
use shardnet_protocol::redundancy::stripe::{self, Piece, StripeError};
use shardnet_protocol::ShardId;

/// A source that reads a manifest's striped chunks from their pieces.
pub struct Striped<'a> {
    inner: &'a dyn ShardSource,
    manifest: &'a Manifest,
}

impl<'a> Striped<'a> {
    pub fn new(inner: &'a dyn ShardSource, manifest: &'a Manifest) -> Self {
        Striped { inner, manifest }
    }
}

impl ShardSource for Striped<'_> {
    fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError> {
        match self.manifest.stored(id) {
            Stored::Copies(_) => self.inner.get(id),
            Stored::Pieces(s) => from_pieces(self.inner, s),
        }
    }

    /// A chunk kept as pieces waits for the slowest of its `k` fetches:
    /// twice the chunks in flight keep the peers as busy as copies do.
    fn reads_per_core(&self) -> usize {
        let n = self.inner.reads_per_core();
        if self.manifest.stripes.is_empty() {
            n
        } else {
            n * 2
        }
    }
}

/// The sealed shard of stripe `s` from any `k` of its pieces in `src`.
pub fn from_pieces(src: &dyn ShardSource, s: &StripeRef) -> Result<Vec<u8>, SourceError> {
    let all: Vec<usize> = (0..s.pieces.len()).collect();
    let got = gather(src, s, &all)?;
    stripe::decode(&got).map_err(|e| match e {
        StripeError::Mismatch(_) => SourceError::Corrupt {
            id: s.shard,
            reason: e.to_string(),
        },
        other => SourceError::Failed {
            id: s.shard,
            reason: other.to_string(),
        },
    })
}

/// `k` pieces of stripe `s` from `src`, each checked, tried in the order of
/// `indices` (`k` at a time, in parallel where the source can).
pub fn gather(
    src: &dyn ShardSource,
    s: &StripeRef,
    indices: &[usize],
) -> Result<Vec<Piece>, SourceError> {
    let need = s.data as usize;
    let indices: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|i| *i < s.pieces.len())
        .collect();
    let mut got: Vec<Piece> = Vec::with_capacity(need);
    let mut problems: Vec<String> = Vec::new();
    let mut next = 0;
    while got.len() < need && next < indices.len() {
        let batch = &indices[next..(next + need - got.len()).min(indices.len())];
        next += batch.len();
        for (index, r) in batch.iter().zip(src.get_pieces(s, batch)) {
            match r
                .map_err(|e| e.to_string())
                .and_then(|b| checked(s, *index, b))
            {
                Ok(p) => got.push(p),
                Err(e) => problems.push(format!("piece {index}: {e}")),
            }
        }
    }
    if got.len() < need {
        return Err(SourceError::Failed {
            id: s.shard,
            reason: format!(
                "only {} of the {need} pieces needed could be read ({})",
                got.len(),
                problems.join("; ")
            ),
        });
    }
    Ok(got)
}

/// `bytes` (already checked against the piece id by the source) as piece
/// `index` of stripe `s`: a piece whose header names another shard, scheme
/// or index is refused even though its id matched what the manifest lists.
fn checked(s: &StripeRef, index: usize, bytes: Vec<u8>) -> Result<Piece, String> {
    let p = Piece::parse(bytes).map_err(|e| e.to_string())?;
    let h = p.header();
    if h.shard != s.shard || h.data != s.data || h.parity != s.parity || h.index as usize != index {
        return Err(format!(
            "its header says piece {} of shard {} ({}+{}), the manifest piece {index} of {} ({}+{})",
            h.index, h.shard, h.data, h.parity, s.shard, s.data, s.parity
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardnet_protocol::redundancy::Scheme;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Pieces by id; some missing, some answering wrong bytes.
    struct Pieces {
        bytes: HashMap<ShardId, Vec<u8>>,
        asked: Mutex<Vec<ShardId>>,
    }

    impl ShardSource for Pieces {
        fn get(&self, id: &ShardId) -> Result<Vec<u8>, SourceError> {
            self.asked.lock().unwrap().push(*id);
            match self.bytes.get(id) {
                Some(b) if id.matches(b) => Ok(b.clone()),
                Some(_) => Err(SourceError::Corrupt {
                    id: *id,
                    reason: "wrong bytes".into(),
                }),
                None => Err(SourceError::NotFound(*id)),
            }
        }
    }

    fn stripe(shard: &[u8]) -> (StripeRef, Pieces) {
        let pieces = stripe::encode(Scheme::Rs { data: 2, parity: 2 }, shard).unwrap();
        let s = StripeRef {
            shard: ShardId::of(shard),
            data: 2,
            parity: 2,
            pieces: pieces.iter().map(Piece::id).collect(),
        };
        let bytes = pieces
            .into_iter()
            .map(|p| (p.id(), p.into_bytes()))
            .collect();
        (
            s,
            Pieces {
                bytes,
                asked: Mutex::new(Vec::new()),
            },
        )
    }

    #[test]
    fn data_pieces_first_then_parity_for_the_missing_and_the_wrong() {
        let shard: Vec<u8> = (0..10_001u32).map(|i| (i * 7) as u8).collect();
        let (s, mut src) = stripe(&shard);
        assert_eq!(from_pieces(&src, &s).unwrap(), shard);
        assert_eq!(*src.asked.lock().unwrap(), s.pieces[..2]);
        // One data piece gone, another rotten: both parity pieces stand in.
        src.bytes.remove(&s.pieces[0]);
        src.bytes.get_mut(&s.pieces[1]).unwrap()[50] ^= 1;
        assert_eq!(from_pieces(&src, &s).unwrap(), shard);
        // A third one gone: a clear error naming every piece.
        src.bytes.remove(&s.pieces[3]);
        let e = from_pieces(&src, &s).unwrap_err().to_string();
        assert!(e.contains("only 1 of the 2 pieces"), "{e}");
        assert!(
            e.contains("piece 0") && e.contains("piece 1") && e.contains("piece 3"),
            "{e}"
        );
    }

    #[test]
    fn a_piece_of_another_stripe_under_a_listed_id_is_refused() {
        let (s, src) = stripe(b"one shard's bytes");
        let (other, osrc) = stripe(b"another shard, other bytes");
        // A manifest that lists the other stripe's piece as piece 0.
        let mut forged = s.clone();
        forged.pieces[0] = other.pieces[0];
        let mut both = src.bytes;
        both.extend(osrc.bytes);
        let src = Pieces {
            bytes: both,
            asked: Mutex::new(Vec::new()),
        };
        // Piece 0 is refused by its header; pieces 1 and 2 restore the shard.
        assert_eq!(from_pieces(&src, &forged).unwrap(), b"one shard's bytes");
    }
}
