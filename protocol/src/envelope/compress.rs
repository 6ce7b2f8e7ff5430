//! zstd for shard bodies: compress only what a small probe shows is worth
//! it (random or already-compressed chunks skip zstd after ~14 µs), and
//! decompress to exactly the length the authenticated header declares.

use super::EnvelopeError;

/// zstd level: 3 is zstd's default and restic's "auto" trade-off.
pub const ZSTD_LEVEL: i32 = 3;
/// Bytes of a chunk compressed as a probe before compressing the whole chunk
/// (about 14 µs on random data, see FIELD-NOTES.md).
const PROBE_LEN: usize = 64 << 10;
/// Compress only if the probe shrinks below this fraction (per mille).
const PROBE_MAX_RATIO_PERMILLE: usize = 950;

/// Compresses `plain` with zstd if that is worth it (probe first), else `None`.
pub(super) fn maybe(plain: &[u8]) -> Result<Option<Vec<u8>>, EnvelopeError> {
    if plain.len() < 64 {
        return Ok(None);
    }
    if plain.len() > PROBE_LEN {
        let probe = &plain[..PROBE_LEN];
        let c =
            zstd::bulk::compress(probe, 1).map_err(|e| EnvelopeError::Compress(e.to_string()))?;
        if c.len() * 1000 > probe.len() * PROBE_MAX_RATIO_PERMILLE {
            return Ok(None);
        }
    }
    let c = zstd::bulk::compress(plain, ZSTD_LEVEL)
        .map_err(|e| EnvelopeError::Compress(e.to_string()))?;
    Ok((c.len() < plain.len()).then_some(c))
}

/// Decompresses a body that must expand to `plain_len` bytes (zstd stops at
/// that capacity, so a lying header cannot make it allocate more).
pub(super) fn decompress(body: &[u8], plain_len: u32) -> Result<Vec<u8>, EnvelopeError> {
    zstd::bulk::decompress(body, plain_len as usize)
        .map_err(|e| EnvelopeError::Decompress(e.to_string()))
}
