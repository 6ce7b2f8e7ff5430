//! The pieces of one sealed shard under Reed–Solomon `k+m`: what each
//! responsible peer of an erasure-coded shard stores, how any `k` of them
//! give the shard back, and how a lost piece is made again byte for byte.
//!
//! A piece is a small header and a body:
//! - the header names the shard (its id and length) and the piece's place
//!   in the stripe (`k`, `m`, index), so a holder can tell a piece from a
//!   shard and find its siblings without the owner's manifest;
//! - the body is `1/k` of the sealed shard (data pieces: the shard cut in
//!   `k` equal parts, the last zero-padded) or a parity part made from all
//!   `k` of them (`reed-solomon-simd`, any `k` of the `k+m` restore it).
//!
//! A piece's id is the BLAKE3 hash of its whole bytes, as a shard's is, so a
//! storing peer verifies it, leases and sampled proofs (`sample`) name it,
//! and nothing downstream of the store needs to know it is a piece. The
//! shard is sealed before it is cut: a data piece's body is a slice of
//! ciphertext, readable by no one, and no holder has more than `1/k` of it.
//!
//! Encoding is deterministic: the same shard and scheme always give the
//! same pieces, so a piece rebuilt from any `k` others has the lost piece's
//! id, and a rebuilder proves its work by that id alone. [`decode`] checks
//! the shard it returns against the shard id in the headers, so pieces that
//! agree on their header but not on their bytes are an error, never a wrong
//! shard.
//!
//! Pure functions, no I/O; the node fetches and stores the bytes.

use super::{Scheme, MAX_PIECES};
use crate::envelope::MAX_SHARD_LEN;
use crate::ShardId;

/// The first bytes of every piece.
pub const PIECE_MAGIC: [u8; 4] = *b"SNPC";
/// The piece format this code writes and reads.
pub const PIECE_VERSION: u8 = 1;
/// Header bytes: magic, version, k, m, index, shard length (u32 LE), shard id.
pub const PIECE_HEADER_LEN: usize = 4 + 1 + 1 + 1 + 1 + 4 + 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StripeError {
    #[error("{0} keeps whole copies: only `rs K+M` cuts a shard into pieces")]
    NotErasure(Scheme),
    #[error("a shard of {0} bytes cannot be cut into pieces: 1 to {MAX_SHARD_LEN} bytes")]
    ShardLen(usize),
    #[error("not a piece: {0}")]
    Header(&'static str),
    #[error("piece of {got} bytes where its header says {want}")]
    BodyLen { got: usize, want: usize },
    #[error("pieces of different shards or stripes given together")]
    Mixed,
    #[error("{have} distinct pieces of shard {shard}; {need} restore it")]
    TooFew {
        shard: ShardId,
        have: usize,
        need: usize,
    },
    #[error("the pieces decode to bytes that are not shard {0}: one of them is corrupt")]
    Mismatch(ShardId),
    #[error("piece index {0} is outside the stripe")]
    Index(usize),
    #[error("erasure code: {0}")]
    Codec(String),
}

/// What a piece's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PieceHeader {
    /// `k`: pieces needed to restore the shard.
    pub data: u8,
    /// `m`: pieces beyond `k`.
    pub parity: u8,
    /// This piece's place: `0..k` data, `k..k+m` parity.
    pub index: u8,
    /// The sealed shard's length in bytes.
    pub shard_len: u32,
    /// The sealed shard's id.
    pub shard: ShardId,
}

impl PieceHeader {
    /// The scheme this piece belongs to.
    pub fn scheme(&self) -> Scheme {
        Scheme::Rs {
            data: self.data,
            parity: self.parity,
        }
    }

    /// Body bytes of every piece of this stripe.
    pub fn body_len(&self) -> usize {
        body_len(self.data, self.shard_len as usize)
    }

    pub fn encode(&self) -> [u8; PIECE_HEADER_LEN] {
        let mut h = [0u8; PIECE_HEADER_LEN];
        h[..4].copy_from_slice(&PIECE_MAGIC);
        h[4] = PIECE_VERSION;
        h[5] = self.data;
        h[6] = self.parity;
        h[7] = self.index;
        h[8..12].copy_from_slice(&self.shard_len.to_le_bytes());
        h[12..].copy_from_slice(&self.shard.0);
        h
    }

    /// Reads and checks a header from the first bytes of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<PieceHeader, StripeError> {
        let h = bytes
            .get(..PIECE_HEADER_LEN)
            .ok_or(StripeError::Header("shorter than a piece header"))?;
        if h[..4] != PIECE_MAGIC {
            return Err(StripeError::Header("no piece magic"));
        }
        if h[4] != PIECE_VERSION {
            return Err(StripeError::Header("unknown piece version"));
        }
        let (data, parity, index) = (h[5], h[6], h[7]);
        if data == 0 || parity == 0 || data as usize + parity as usize > MAX_PIECES {
            return Err(StripeError::Header("stripe outside 1..=32 pieces"));
        }
        if index as usize >= data as usize + parity as usize {
            return Err(StripeError::Header("index outside its stripe"));
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&h[8..12]);
        let shard_len = u32::from_le_bytes(len);
        if shard_len == 0 || shard_len as usize > MAX_SHARD_LEN {
            return Err(StripeError::Header("shard length out of range"));
        }
        let mut id = [0u8; 32];
        id.copy_from_slice(&h[12..]);
        Ok(PieceHeader {
            data,
            parity,
            index,
            shard_len,
            shard: ShardId(id),
        })
    }
}

/// Body bytes of each piece of a `shard_len`-byte shard cut in `data`:
/// rounded up to an even length, as the code works on 16-bit symbols.
pub fn body_len(data: u8, shard_len: usize) -> usize {
    let per = shard_len.div_ceil(data.max(1) as usize).max(1);
    per + per % 2
}

/// One piece: header and body in one buffer, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Piece {
    header: PieceHeader,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Piece")
            .field("header", &self.header)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Piece {
    /// Checks stored or received bytes as a piece: its header, and a body
    /// of the length the header implies. (Its id is whatever the bytes hash
    /// to: the caller compares it with the id it asked for.)
    pub fn parse(bytes: Vec<u8>) -> Result<Piece, StripeError> {
        let header = PieceHeader::decode(&bytes)?;
        let want = PIECE_HEADER_LEN + header.body_len();
        if bytes.len() != want {
            return Err(StripeError::BodyLen {
                got: bytes.len(),
                want,
            });
        }
        Ok(Piece { header, bytes })
    }

    fn new(header: PieceHeader, body: &[u8]) -> Piece {
        let mut bytes = Vec::with_capacity(PIECE_HEADER_LEN + body.len());
        bytes.extend_from_slice(&header.encode());
        bytes.extend_from_slice(body);
        Piece { header, bytes }
    }

    pub fn id(&self) -> ShardId {
        ShardId::of(&self.bytes)
    }

    pub fn header(&self) -> &PieceHeader {
        &self.header
    }

    pub fn body(&self) -> &[u8] {
        &self.bytes[PIECE_HEADER_LEN..]
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Cuts the sealed shard `shard` into the `k+m` pieces of `scheme`, in
/// index order.
pub fn encode(scheme: Scheme, shard: &[u8]) -> Result<Vec<Piece>, StripeError> {
    let Scheme::Rs { data, parity } = scheme else {
        return Err(StripeError::NotErasure(scheme));
    };
    if data == 0 || parity == 0 || scheme.pieces() > MAX_PIECES {
        return Err(StripeError::Header("stripe outside 1..=32 pieces"));
    }
    if shard.is_empty() || shard.len() > MAX_SHARD_LEN {
        return Err(StripeError::ShardLen(shard.len()));
    }
    let shard_id = ShardId::of(shard);
    let header = |index: u8| PieceHeader {
        data,
        parity,
        index,
        shard_len: shard.len() as u32,
        shard: shard_id,
    };
    // Data pieces are the shard's parts with a header in front, the last
    // zero-padded; parity is made from their bodies in place.
    let per = body_len(data, shard.len());
    let mut pieces: Vec<Piece> = (0..data)
        .map(|i| {
            let from = (i as usize * per).min(shard.len());
            let part = &shard[from..(from + per).min(shard.len())];
            let mut p = Piece::new(header(i), part);
            p.bytes.resize(PIECE_HEADER_LEN + per, 0);
            p
        })
        .collect();
    let parity_bodies = reed_solomon_simd::encode(
        data as usize,
        parity as usize,
        pieces.iter().map(Piece::body),
    )
    .map_err(|e| StripeError::Codec(e.to_string()))?;
    pieces.extend(
        parity_bodies
            .iter()
            .enumerate()
            .map(|(i, b)| Piece::new(header(data + i as u8), b)),
    );
    Ok(pieces)
}

/// The sealed shard from any `k` (or more) pieces of one stripe, checked
/// against the shard id their headers name. Duplicates of an index are
/// ignored; pieces of different stripes are an error.
pub fn decode(pieces: &[Piece]) -> Result<Vec<u8>, StripeError> {
    let first = pieces.first().ok_or(StripeError::TooFew {
        shard: ShardId([0; 32]),
        have: 0,
        need: 1,
    })?;
    let h = first.header;
    let same = |p: &Piece| {
        let o = p.header;
        (o.data, o.parity, o.shard_len, o.shard) == (h.data, h.parity, h.shard_len, h.shard)
    };
    if !pieces.iter().all(same) {
        return Err(StripeError::Mixed);
    }
    let (k, m) = (h.data as usize, h.parity as usize);
    let mut by_index: Vec<Option<&Piece>> = vec![None; k + m];
    for p in pieces {
        by_index[p.header.index as usize].get_or_insert(p);
    }
    let have = by_index.iter().flatten().count();
    if have < k {
        return Err(StripeError::TooFew {
            shard: h.shard,
            have,
            need: k,
        });
    }
    let len = h.shard_len as usize;
    let mut shard = Vec::with_capacity(k * h.body_len());
    if by_index[..k].iter().all(Option::is_some) {
        for p in by_index[..k].iter().flatten() {
            shard.extend_from_slice(p.body());
        }
    } else {
        let originals = by_index[..k]
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p.body())));
        let recovery = by_index[k..]
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p.body())));
        let restored = reed_solomon_simd::decode(k, m, originals, recovery)
            .map_err(|e| StripeError::Codec(e.to_string()))?;
        for (i, p) in by_index[..k].iter().enumerate() {
            match (p, restored.get(&i)) {
                (Some(p), _) => shard.extend_from_slice(p.body()),
                (None, Some(b)) => shard.extend_from_slice(b),
                (None, None) => return Err(StripeError::Codec(format!("piece {i} not restored"))),
            }
        }
    }
    shard.truncate(len);
    if ShardId::of(&shard) != h.shard {
        return Err(StripeError::Mismatch(h.shard));
    }
    Ok(shard)
}

/// The pieces at `indices` made again from any `k` others of their stripe:
/// byte for byte the lost ones, with their ids.
pub fn rebuild(pieces: &[Piece], indices: &[usize]) -> Result<Vec<Piece>, StripeError> {
    let shard = decode(pieces)?;
    let h = pieces[0].header;
    if let Some(&i) = indices.iter().find(|&&i| i >= h.scheme().pieces()) {
        return Err(StripeError::Index(i));
    }
    let all = encode(h.scheme(), &shard)?;
    Ok(indices.iter().map(|&i| all[i].clone()).collect())
}

#[cfg(test)]
mod tests;
