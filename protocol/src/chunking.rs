//! Content-defined chunking parameters. FastCDC (2020 variant, from the `fastcdc`
//! crate) cuts at content-dependent points, so an insertion in a large file shifts
//! only the chunks around it and the rest dedup against the previous backup. Fixed
//! size chunks would re-store everything after the first inserted byte.

/// No chunk is smaller than this (except a file's last one).
pub const MIN_CHUNK: u32 = 256 << 10;
/// Target average chunk size: the "~1 MiB shard" of the design.
pub const AVG_CHUNK: u32 = 1 << 20;
/// No chunk is larger than this; [`crate::envelope::MAX_PLAINTEXT_LEN`] exceeds it.
pub const MAX_CHUNK: u32 = 4 << 20;

/// Chunk boundaries of an in-memory buffer, as `(offset, length)` pairs. Streaming
/// callers use `fastcdc::v2020::StreamCDC` with the same constants, which cuts at
/// the same points.
pub fn boundaries(data: &[u8]) -> Vec<(usize, usize)> {
    fastcdc::v2020::FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
        .map(|c| (c.offset, c.length))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut v = vec![0u8; n];
        rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
        v
    }

    #[test]
    fn covers_input_within_bounds() {
        let data = random(9 << 20, 1);
        let b = boundaries(&data);
        let mut pos = 0;
        for (i, (off, len)) in b.iter().enumerate() {
            assert_eq!(*off, pos);
            assert!(*len <= MAX_CHUNK as usize);
            if i + 1 < b.len() {
                assert!(*len >= MIN_CHUNK as usize);
            }
            pos += len;
        }
        assert_eq!(pos, data.len());
        assert!(b.len() >= 4, "9 MiB gave only {} chunks", b.len());
    }

    #[test]
    fn insertion_changes_few_chunks() {
        let data = random(16 << 20, 2);
        let mut edited = data.clone();
        edited.splice(5_000_000..5_000_000, b"inserted bytes".iter().copied());
        let set = |d: &[u8]| -> std::collections::HashSet<blake3::Hash> {
            boundaries(d)
                .iter()
                .map(|(o, l)| blake3::hash(&d[*o..o + l]))
                .collect()
        };
        let (a, b) = (set(&data), set(&edited));
        let changed = b.difference(&a).count();
        assert!(changed <= 2, "{changed} of {} chunks changed", b.len());
    }

    #[test]
    fn stream_matches_slice() {
        let data = random(6 << 20, 3);
        let stream: Vec<(usize, usize)> =
            fastcdc::v2020::StreamCDC::new(&data[..], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
                .map(|c| {
                    let c = c.unwrap();
                    (c.offset as usize, c.length)
                })
                .collect();
        assert_eq!(stream, boundaries(&data));
    }
}
