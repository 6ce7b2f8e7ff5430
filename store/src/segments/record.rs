//! The on-disk shape of a segment record and of its location in the index:
//! a 64-byte header (magic, shard id, length) then the shard's bytes, padded
//! to the 4 KiB block that `O_DIRECT` reads and writes in; and the 16-byte
//! location (segment, offset, length) the `locations` column family keeps.

use shardnet_protocol::envelope::MAX_SHARD_LEN;
use shardnet_protocol::ShardId;

/// Block size direct I/O is aligned to (offsets, lengths and buffers).
pub(crate) const ALIGN: usize = 4096;
/// Bytes before a record's payload.
pub(crate) const HEADER: usize = 64;
const MAGIC: &[u8; 8] = b"SNSEG001";
/// Bytes of an encoded [`Location`].
const LOCATION_LEN: usize = 16;

/// `n` rounded up to the block size.
pub(crate) fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Where a shard's bytes are: a record in a segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segment: u32,
    /// Byte offset of the record's header, block-aligned.
    pub(crate) offset: u64,
    /// Bytes of the shard (the payload, without header and padding).
    pub(crate) len: u32,
}

impl Location {
    /// Bytes the record takes in its segment, header and padding included.
    pub(crate) fn span(&self) -> u64 {
        align_up(HEADER + self.len as usize) as u64
    }

    /// Offset just past the record.
    pub(crate) fn end(&self) -> u64 {
        self.offset + self.span()
    }

    pub(crate) fn encode(&self) -> [u8; LOCATION_LEN] {
        let mut out = [0u8; LOCATION_LEN];
        out[..4].copy_from_slice(&self.segment.to_le_bytes());
        out[4..12].copy_from_slice(&self.offset.to_le_bytes());
        out[12..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decodes a location read from the index; `None` for anything that
    /// is not one (a damaged index row then reads as missing bytes).
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; LOCATION_LEN] = b.try_into().ok()?;
        let le32 = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[4..12]);
        let loc = Location {
            segment: le32(&b[..4]),
            offset: u64::from_le_bytes(off),
            len: le32(&b[12..]),
        };
        let aligned = loc.offset.is_multiple_of(ALIGN as u64);
        (aligned && loc.len as usize <= MAX_SHARD_LEN).then_some(loc)
    }
}

/// The header of `id`'s record of `len` bytes.
pub(crate) fn header(id: &ShardId, len: u32) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..40].copy_from_slice(&id.0);
    h[40..44].copy_from_slice(&len.to_le_bytes());
    h
}

/// Checks a record read back against its location: why it is not the
/// record of `id`, or `None` when the header matches.
pub(crate) fn check_header(h: &[u8], id: &ShardId, len: u32) -> Option<String> {
    if h.len() < HEADER || &h[..8] != MAGIC {
        return Some("its segment record has no valid header".into());
    }
    if h[8..40] != id.0 {
        return Some("its segment record belongs to another shard".into());
    }
    if h[40..44] != len.to_le_bytes() {
        return Some("its segment record has another length than its index".into());
    }
    None
}

/// A zeroed buffer of `len` bytes (a multiple of [`ALIGN`]) whose start is
/// block-aligned, as `O_DIRECT` requires: over-allocated by one block, and
/// used from the first aligned byte.
pub(crate) struct AlignedBuf {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    pub(crate) fn new() -> Self {
        AlignedBuf {
            buf: Vec::new(),
            start: 0,
            len: 0,
        }
    }

    /// Makes room for `len` bytes, reusing the allocation when it is big
    /// enough (the padding past the payload is zeroed by the caller).
    pub(crate) fn resize(&mut self, len: usize) -> &mut [u8] {
        if self.buf.len() < len + ALIGN {
            self.buf = vec![0u8; len + ALIGN];
        }
        self.start = self.buf.as_ptr().align_offset(ALIGN).min(ALIGN);
        self.len = len;
        &mut self.buf[self.start..self.start + len]
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn locations_round_trip_and_garbage_is_refused(
            segment: u32, block: u32, len in 0u32..(MAX_SHARD_LEN as u32), junk: Vec<u8>,
        ) {
            let loc = Location { segment, offset: block as u64 * ALIGN as u64, len };
            prop_assert_eq!(Location::decode(&loc.encode()), Some(loc));
            prop_assert_eq!(loc.span() % ALIGN as u64, 0);
            prop_assert!(loc.span() >= HEADER as u64 + len as u64);
            if junk.len() != LOCATION_LEN {
                prop_assert_eq!(Location::decode(&junk), None);
            }
        }
    }

    #[test]
    fn headers_name_their_shard_and_length() {
        let id = ShardId::of(b"x");
        let h = header(&id, 7);
        assert_eq!(check_header(&h, &id, 7), None);
        assert!(check_header(&h, &id, 8).unwrap().contains("length"));
        assert!(check_header(&h, &ShardId::of(b"y"), 7)
            .unwrap()
            .contains("another shard"));
        assert!(check_header(&[0; HEADER], &id, 7)
            .unwrap()
            .contains("no valid header"));
    }

    #[test]
    fn buffers_start_on_a_block() {
        let mut b = AlignedBuf::new();
        for len in [ALIGN, 3 * ALIGN, ALIGN] {
            let s = b.resize(len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as usize % ALIGN, 0);
        }
    }
}
