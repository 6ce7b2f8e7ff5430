//! Owner keys. One random 256-bit master key per owner; every other key is derived
//! from it with BLAKE3's `derive_key` under a fixed context string, so a fresh
//! machine holding only the master key (its recovery string) can restore everything.
//!
//! - *convergence key*: chunk key = keyed BLAKE3(convergence key, plaintext). The
//!   same owner's identical chunks get the same key, hence the same shard (dedup);
//!   without the convergence key nobody can confirm a guess of the plaintext.
//! - *manifest piece key*: the same construction for the pieces of a manifest.
//! - *manifest key*: encrypts every backup's manifest root (random nonces).
//! - *signing key*: ed25519, signs leases and catalogue records; its public
//!   half is the *owner id*, the owner's public name for leases and quotas.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

const CTX_CONVERGENCE: &str = "shardnet 2026-11 chunk convergence key v1";
const CTX_MANIFEST_PIECE: &str = "shardnet 2026-11 manifest piece convergence key v1";
const CTX_MANIFEST: &str = "shardnet 2026-11 manifest root key v1";
const CTX_CATALOGUE: &str = "shardnet 2026-11 catalogue key v1";
const CTX_SIGNING: &str = "shardnet 2026-11 owner ed25519 signing seed v1";

/// Prefix of a recovery string; the digit is the string format's version.
pub const RECOVERY_PREFIX: &str = "snk1";
const CHECKSUM_LEN: usize = 4;

/// The owner's master key. Losing it loses every backup made with it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

/// A key that encrypts exactly one shard's plaintext (convergent) or a family of
/// shards under random nonces (the manifest key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardKey(pub [u8; 32]);

/// Keyed-hash key from which per-chunk keys are derived.
#[derive(Clone)]
pub struct ConvergenceKey([u8; 32]);

/// Public name of an owner (for leases and quotas); reveals nothing of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OwnerId(
    #[serde(
        serialize_with = "crate::id::serialize_bytes32",
        deserialize_with = "crate::id::deserialize_bytes32"
    )]
    pub [u8; 32],
);

/// Why a recovery string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a recovery string starts with {RECOVERY_PREFIX:?}")]
    Prefix,
    #[error("a recovery string holds 72 hexadecimal digits after the prefix, found {0}")]
    Length(usize),
    #[error("the recovery string contains a character that is not a hexadecimal digit or '-'")]
    NotHex,
    #[error("the recovery string's checksum does not match: a character was mistyped")]
    Checksum,
}

impl MasterKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        MasterKey(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    pub fn convergence_key(&self) -> ConvergenceKey {
        ConvergenceKey(blake3::derive_key(CTX_CONVERGENCE, &self.0))
    }

    pub fn manifest_piece_key(&self) -> ConvergenceKey {
        ConvergenceKey(blake3::derive_key(CTX_MANIFEST_PIECE, &self.0))
    }

    pub fn manifest_key(&self) -> ShardKey {
        ShardKey(blake3::derive_key(CTX_MANIFEST, &self.0))
    }

    /// Encrypts the owner's backup catalogue (random nonces).
    pub fn catalogue_key(&self) -> ShardKey {
        ShardKey(blake3::derive_key(CTX_CATALOGUE, &self.0))
    }

    /// The owner's ed25519 key: signs catalogue records so that peers accept a
    /// newer catalogue only from its owner.
    pub fn signing_key(&self) -> libp2p_identity::ed25519::Keypair {
        let seed = blake3::derive_key(CTX_SIGNING, &self.0);
        let secret = libp2p_identity::ed25519::SecretKey::try_from_bytes(seed)
            .expect("any 32 bytes are an ed25519 seed"); // ok: checked length
        libp2p_identity::ed25519::Keypair::from(secret)
    }

    /// The owner's public name: its signing key's public half, so that a
    /// lease or catalogue names the key that must have signed it.
    pub fn owner_id(&self) -> OwnerId {
        OwnerId(self.signing_key().public().to_bytes())
    }

    /// `snk1-` followed by the key and a 4-byte checksum in hex, in groups of 8.
    pub fn to_recovery_string(&self) -> String {
        let mut raw = self.0.to_vec();
        raw.extend_from_slice(&blake3::hash(&self.0).as_bytes()[..CHECKSUM_LEN]);
        let hex = hex::encode(raw);
        let groups: Vec<&str> = hex
            .as_bytes()
            .chunks(8)
            .map(|c| std::str::from_utf8(c).expect("hex is ASCII")) // ok: hex::encode writes ASCII only
            .collect();
        format!("{RECOVERY_PREFIX}-{}", groups.join("-"))
    }

    /// Parses a recovery string; whitespace, case and dashes are forgiven.
    pub fn from_recovery_string(s: &str) -> Result<Self, KeyError> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let body = compact
            .strip_prefix(RECOVERY_PREFIX)
            .ok_or(KeyError::Prefix)?;
        if body.len() != (32 + CHECKSUM_LEN) * 2 {
            return Err(KeyError::Length(body.len()));
        }
        let raw = hex::decode(body).map_err(|_| KeyError::NotHex)?;
        let (key, sum) = raw.split_at(32);
        let key: [u8; 32] = key.try_into().expect("split_at(32) of 36 bytes"); // ok: checked length
        if &blake3::hash(&key).as_bytes()[..CHECKSUM_LEN] != sum {
            return Err(KeyError::Checksum);
        }
        Ok(MasterKey(key))
    }
}

impl ConvergenceKey {
    /// The key of the shard holding `plaintext`.
    pub fn key_for(&self, plaintext: &[u8]) -> ShardKey {
        ShardKey(*blake3::keyed_hash(&self.0, plaintext).as_bytes())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

impl fmt::Debug for ShardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShardKey(<secret>)")
    }
}

impl fmt::Debug for ConvergenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConvergenceKey(<secret>)")
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerId({})", hex::encode(&self.0[..6]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn key(seed: u64) -> MasterKey {
        MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
    }

    #[test]
    fn recovery_round_trip_and_forgiving() {
        let k = key(1);
        let s = k.to_recovery_string();
        assert!(s.starts_with("snk1-"));
        assert_eq!(MasterKey::from_recovery_string(&s).unwrap(), k);
        let messy = format!("  {} \n", s.to_uppercase().replace('-', " "));
        assert_eq!(MasterKey::from_recovery_string(&messy).unwrap(), k);
    }

    #[test]
    fn typo_is_caught() {
        let s = key(2).to_recovery_string();
        let mut chars: Vec<char> = s.chars().collect();
        let i = 10;
        chars[i] = if chars[i] == '0' { '1' } else { '0' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(
            MasterKey::from_recovery_string(&typo),
            Err(KeyError::Checksum)
        );
        assert_eq!(
            MasterKey::from_recovery_string("snk1-00"),
            Err(KeyError::Length(2))
        );
        assert_eq!(
            MasterKey::from_recovery_string("xyz"),
            Err(KeyError::Prefix)
        );
    }

    #[test]
    fn derived_keys_are_distinct_and_owner_scoped() {
        let (a, b) = (key(3), key(4));
        let chunk = b"same chunk for two owners";
        assert_eq!(
            a.convergence_key().key_for(chunk),
            a.convergence_key().key_for(chunk)
        );
        assert_ne!(
            a.convergence_key().key_for(chunk),
            b.convergence_key().key_for(chunk)
        );
        assert_ne!(
            a.convergence_key().key_for(chunk),
            a.manifest_piece_key().key_for(chunk)
        );
        assert_ne!(a.manifest_key(), b.manifest_key());
        assert_ne!(a.owner_id(), b.owner_id());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,120}") {
            let _ = MasterKey::from_recovery_string(&s);
        }
    }
}
