//! Membership gossip: what a node announces on `shardnet/membership/3` (its
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

/// A heartbeat signed by the member it describes, with the time it was
/// signed. Any node may hand it on (a joiner's pull of the member list,
/// `wire::Request::Members`) and the receiver still knows it came from the
/// member: the gossip layer's own signature does not survive a relay. A
/// record cannot be forged, only replayed, so receivers bound its age.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHeartbeat {
    /// The member's public key, libp2p's protobuf encoding (its peer id is
    /// derived from it).
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    pub hb: Heartbeat,
    /// When the member signed it: unix seconds on its clock.
    pub issued_at: u64,
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

/// Longest public key a record may carry (an Ed25519 key is 36 bytes).
pub const MAX_RECORD_KEY: usize = 128;
/// Longest signature a record may carry (Ed25519: 64 bytes).
pub const MAX_RECORD_SIG: usize = 128;
/// Domain of the signature: a record's bytes sign nothing else.
const RECORD_CONTEXT: &[u8] = b"shardnet heartbeat record v1";

/// Why a signed heartbeat was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("heartbeat out of bounds: {0}")]
    Bounds(String),
    #[error("public key unreadable")]
    Key,
    #[error("signature does not verify")]
    Signature,
}

impl SignedHeartbeat {
    fn message(hb: &Heartbeat, issued_at: u64) -> Vec<u8> {
        let mut m = RECORD_CONTEXT.to_vec();
        m.extend(
            codec::encode::<_, MAX_ANNOUNCEMENT_LEN>("heartbeat", &(hb, issued_at))
                .unwrap_or_default(),
        );
        m
    }

    /// Signs `hb` as of `issued_at` with the member's identity key.
    pub fn sign(key: &libp2p_identity::Keypair, hb: Heartbeat, issued_at: u64) -> Self {
        let sig = key.sign(&Self::message(&hb, issued_at)).unwrap_or_default();
        SignedHeartbeat {
            key: key.public().encode_protobuf(),
            hb,
            issued_at,
            sig,
        }
    }

    /// Checks the bounds and the signature; returns the member's peer id.
    pub fn verify(&self) -> Result<libp2p_identity::PeerId, RecordError> {
        if self.key.len() > MAX_RECORD_KEY || self.sig.len() > MAX_RECORD_SIG {
            return Err(RecordError::Bounds("key or signature too long".into()));
        }
        self.hb.check().map_err(RecordError::Bounds)?;
        let pk = libp2p_identity::PublicKey::try_decode_protobuf(&self.key)
            .map_err(|_| RecordError::Key)?;
        if !pk.verify(&Self::message(&self.hb, self.issued_at), &self.sig) {
            return Err(RecordError::Signature);
        }
        Ok(pk.to_peer_id())
    }

    /// About how many bytes the record takes encoded (an upper bound on
    /// fixed fields): what answers holding many records are budgeted by.
    pub fn approx_len(&self) -> usize {
        let hb = &self.hb;
        96 + self.key.len()
            + self.sig.len()
            + hb.zone.len()
            + hb.version.len()
            + hb.addrs.iter().map(|a| a.len() + 8).sum::<usize>()
    }

    /// How old the record is at `now` (unix seconds), if it is no older
    /// than `max_age` and not dated more than `skew` ahead (clocks differ).
    pub fn age(&self, now: u64, max_age: u64, skew: u64) -> Option<u64> {
        if self.issued_at > now.saturating_add(skew) {
            return None;
        }
        let age = now.saturating_sub(self.issued_at);
        (age <= max_age).then_some(age)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Announcement {
    Heartbeat(SignedHeartbeat),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hb() -> Heartbeat {
        Heartbeat {
            zone: "a".into(),
            capacity: 1 << 30,
            used: 0,
            version: "1".into(),
            addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
            draining: false,
            radius: None,
        }
    }

    #[test]
    fn a_record_verifies_as_its_signer_and_nothing_else() {
        let key = libp2p_identity::Keypair::generate_ed25519();
        let rec = SignedHeartbeat::sign(&key, hb(), 1_000);
        assert_eq!(rec.verify(), Ok(key.public().to_peer_id()));
        let mut forged = rec.clone();
        forged.hb.zone = "b".into();
        assert_eq!(forged.verify(), Err(RecordError::Signature));
        let mut older = rec.clone();
        older.issued_at = 999;
        assert_eq!(
            older.verify(),
            Err(RecordError::Signature),
            "the time is signed"
        );
        let mut other = rec.clone();
        other.key = libp2p_identity::Keypair::generate_ed25519()
            .public()
            .encode_protobuf();
        assert_eq!(other.verify(), Err(RecordError::Signature));
        let mut junk = rec.clone();
        junk.key = vec![1, 2, 3];
        assert_eq!(junk.verify(), Err(RecordError::Key));
        let mut long = rec.clone();
        long.sig = vec![0; MAX_RECORD_SIG + 1];
        assert!(matches!(long.verify(), Err(RecordError::Bounds(_))));
        let mut fat = SignedHeartbeat::sign(&key, hb(), 1_000);
        fat.hb.addrs = vec!["x".into(); MAX_HEARTBEAT_ADDRS + 1];
        assert!(matches!(fat.verify(), Err(RecordError::Bounds(_))));
        let back = Announcement::decode(&Announcement::Heartbeat(rec.clone()).encode()).unwrap();
        assert_eq!(back, Announcement::Heartbeat(rec));
    }

    #[test]
    fn replayed_records_are_bounded_by_age() {
        let key = libp2p_identity::Keypair::generate_ed25519();
        let rec = SignedHeartbeat::sign(&key, hb(), 1_000);
        assert_eq!(rec.age(1_500, 600, 60), Some(500));
        assert_eq!(rec.age(1_601, 600, 60), None, "too old");
        assert_eq!(rec.age(950, 600, 60), Some(0), "a little ahead: skew");
        assert_eq!(rec.age(900, 600, 60), None, "far in the future");
    }
}
