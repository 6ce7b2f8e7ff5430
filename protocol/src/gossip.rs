//! Membership gossip: what a node announces on `shardnet/membership/2` (its
//! heartbeat, a leave, a down report) and the bounds every such message must
//! keep. The bytes come from any peer of an open swarm, so the decoder and
//! the checks live here, without I/O, where they are property-tested and
//! fuzzed on their own.

use crate::codec;
use crate::placement::Key;
use serde::{Deserialize, Serialize};

pub const MAX_ANNOUNCEMENT_LEN: usize = 16 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub zone: String,
    pub capacity: u64,
    pub used: u64,
    pub version: String,
    pub addrs: Vec<String>,
    pub draining: bool,
    /// Storage radius while the node sheds load (see `placement::shed_radius`).
    #[serde(default, with = "opt_hex")]
    pub radius: Option<Key>,
}

/// Radius as hex in JSON (`peers list`); bincode on the wire sees the same.
mod opt_hex {
    use crate::placement::Key;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<Key>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(k) => s.serialize_some(&hex::encode(k)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Key>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|h| {
            let b = hex::decode(&h).map_err(serde::de::Error::custom)?;
            Key::try_from(b.as_slice()).map_err(|_| serde::de::Error::custom("radius: 32 bytes"))
        })
        .transpose()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Announcement {
    Heartbeat(Heartbeat),
    /// The sender is shutting down.
    Leave,
    /// The sender considers this peer (id bytes) down.
    Down(Vec<u8>),
}

/// Most addresses one heartbeat may carry.
pub const MAX_HEARTBEAT_ADDRS: usize = 8;
/// Longest zone, version or address string in a heartbeat.
pub const MAX_HEARTBEAT_FIELD: usize = 256;

impl Heartbeat {
    /// Checks the bounds every heartbeat must keep; a heartbeat that breaks
    /// one is ignored whole (its sender is not heard).
    pub fn check(&self) -> Result<(), String> {
        if self.addrs.len() > MAX_HEARTBEAT_ADDRS {
            return Err(format!(
                "{} addresses (at most {MAX_HEARTBEAT_ADDRS})",
                self.addrs.len()
            ));
        }
        let long = [&self.zone, &self.version]
            .into_iter()
            .chain(&self.addrs)
            .find(|f| f.len() > MAX_HEARTBEAT_FIELD);
        if let Some(f) = long {
            return Err(format!(
                "a field of {} bytes (at most {MAX_HEARTBEAT_FIELD})",
                f.len()
            ));
        }
        Ok(())
    }
}

impl Announcement {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode::<_, MAX_ANNOUNCEMENT_LEN>("announcement", self).unwrap_or_default()
    }
    pub fn decode(b: &[u8]) -> Result<Self, codec::CodecError> {
        codec::decode::<_, MAX_ANNOUNCEMENT_LEN>("announcement", b)
    }
}
