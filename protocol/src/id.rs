//! Content addresses. A shard's id is the BLAKE3 hash of its (encrypted) bytes, so
//! anyone holding the bytes can check them against the id without any key.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length of an id in bytes.
pub const ID_LEN: usize = 32;

/// Address of a shard: `BLAKE3(shard bytes)`.
///
/// Serialised as 32 raw bytes in binary formats and as a hex string in
/// human-readable ones (JSON output).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub [u8; ID_LEN]);

/// A backup is named by the id of its manifest's root shard.
pub type BackupId = ShardId;

/// Why a string or byte slice is not a shard id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("an id is 64 hexadecimal characters, got {0} characters")]
    Length(usize),
    #[error("an id is hexadecimal (0-9, a-f): {0:?} is not")]
    NotHex(String),
    #[error("an id is {ID_LEN} bytes, got {0}")]
    Bytes(usize),
}

impl ShardId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        ShardId(*blake3::hash(bytes).as_bytes())
    }

    /// Whether `bytes` hash to this id.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        // blake3::Hash's equality is constant-time; not needed here but harmless.
        blake3::hash(bytes) == blake3::Hash::from_bytes(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdError> {
        let arr: [u8; ID_LEN] = bytes.try_into().map_err(|_| IdError::Bytes(bytes.len()))?;
        Ok(ShardId(arr))
    }

    /// The first 12 hex characters, for tables.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

/// Serialises 32 bytes as hex for human-readable formats, raw otherwise.
pub fn serialize_bytes32<S: Serializer>(b: &[u8; ID_LEN], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex::encode(b))
    } else {
        b.serialize(s)
    }
}

/// Inverse of [`serialize_bytes32`].
pub fn deserialize_bytes32<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; ID_LEN], D::Error> {
    if d.is_human_readable() {
        let s = String::deserialize(d)?;
        let mut out = [0u8; ID_LEN];
        hex::decode_to_slice(s.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    } else {
        <[u8; ID_LEN]>::deserialize(d)
    }
}

impl Serialize for ShardId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_bytes32(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for ShardId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bytes32(d).map(ShardId)
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardId({})", self.short())
    }
}

impl FromStr for ShardId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        if s.len() != ID_LEN * 2 {
            return Err(IdError::Length(s.chars().count()));
        }
        let mut out = [0u8; ID_LEN];
        hex::decode_to_slice(s, &mut out).map_err(|_| IdError::NotHex(s.to_string()))?;
        Ok(ShardId(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hex_round_trip(bytes in proptest::array::uniform32(any::<u8>())) {
            let id = ShardId(bytes);
            prop_assert_eq!(id.to_string().parse::<ShardId>().unwrap(), id);
        }

        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = s.parse::<ShardId>();
        }
    }

    #[test]
    fn json_is_hex_binary_is_raw() {
        let id = ShardId([0xab; 32]);
        let j = serde_json::to_string(&id).unwrap();
        assert_eq!(j, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<ShardId>(&j).unwrap(), id);
        let b = crate::codec::encode::<_, 64>("id", &id).unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!(crate::codec::decode::<ShardId, 64>("id", &b).unwrap(), id);
    }

    #[test]
    fn matches_detects_flip() {
        let data = b"hello shard".to_vec();
        let id = ShardId::of(&data);
        assert!(id.matches(&data));
        let mut bad = data.clone();
        bad[0] ^= 1;
        assert!(!id.matches(&bad));
    }

    #[test]
    fn bad_strings_are_errors() {
        assert_eq!("abc".parse::<ShardId>(), Err(IdError::Length(3)));
        assert!(matches!(
            "z".repeat(64).parse::<ShardId>(),
            Err(IdError::NotHex(_))
        ));
    }
}
