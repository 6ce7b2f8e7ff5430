//! Size-limited serde encoding (bincode 2, standard config). Every structure that
//! crosses a trust boundary (manifests, metadata, later wire messages) is decoded
//! through [`decode`], which refuses inputs over a caller-named limit before
//! allocating, bounds every length prefix by the same limit, and rejects trailing
//! bytes.

use serde::{de::DeserializeOwned, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("{what}: {len} bytes exceed the {max}-byte limit")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what}: malformed: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("{what}: {extra} unexpected bytes after the value")]
    Trailing { what: &'static str, extra: usize },
    #[error("{what}: cannot encode: {reason}")]
    Encode { what: &'static str, reason: String },
}

/// Encodes `value`; fails if the encoding would exceed `LIMIT` bytes.
pub fn encode<T: Serialize, const LIMIT: usize>(
    what: &'static str,
    value: &T,
) -> Result<Vec<u8>, CodecError> {
    // bincode applies its limit only when decoding; check the encoded length here.
    let bytes = bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| {
        CodecError::Encode {
            what,
            reason: e.to_string(),
        }
    })?;
    if bytes.len() > LIMIT {
        return Err(CodecError::TooLarge {
            what,
            len: bytes.len(),
            max: LIMIT,
        });
    }
    Ok(bytes)
}

/// Decodes a `T` from exactly `bytes`, which must not exceed `LIMIT`.
pub fn decode<T: DeserializeOwned, const LIMIT: usize>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if bytes.len() > LIMIT {
        return Err(CodecError::TooLarge {
            what,
            len: bytes.len(),
            max: LIMIT,
        });
    }
    let cfg = bincode::config::standard().with_limit::<LIMIT>();
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, cfg).map_err(|e| CodecError::Malformed {
            what,
            reason: e.to_string(),
        })?;
    if used != bytes.len() {
        return Err(CodecError::Trailing {
            what,
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_and_trailing() {
        let v: Vec<u64> = (0..100).collect();
        let bytes = encode::<_, 4096>("v", &v).unwrap();
        assert_eq!(decode::<Vec<u64>, 4096>("v", &bytes).unwrap(), v);
        assert!(matches!(
            decode::<Vec<u64>, 16>("v", &bytes),
            Err(CodecError::TooLarge { .. })
        ));
        assert!(matches!(
            encode::<_, 16>("v", &v),
            Err(CodecError::TooLarge { .. })
        ));
        let mut more = bytes.clone();
        more.push(0);
        assert!(matches!(
            decode::<Vec<u64>, 4096>("v", &more),
            Err(CodecError::Trailing { .. })
        ));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A varint length prefix claiming 2^60 elements.
        let bytes = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10];
        assert!(decode::<Vec<u8>, 1024>("v", &bytes).is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<Vec<(u32, String, Vec<u8>)>, 4096>("g", &data);
        }
    }
}
