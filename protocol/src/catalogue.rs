//! The owner's backup catalogue: one entry per backup, enough to list backups
//! without opening their manifests.
//!
//! In the swarm the whole catalogue travels as a [`SignedCatalogue`]: the entries
//! encrypted under the owner's catalogue key, a sequence number, and an ed25519
//! signature by the owner's signing key (derived from the master key). Peers
//! verify the signature and keep the highest sequence number; only the owner can
//! read or replace it, and a fresh machine holding the master key finds it at a
//! slot derived from the owner's public key.
//!
//! `keys rotate` ends an owner key's catalogue with a [`Revocation`]: a record
//! at the highest sequence number there is, so no later record of the old
//! key replaces it (holders keep the highest), naming the key that took over.
//! It is signed but not encrypted: it holds nothing secret, and a reader with
//! only the old key learns where the backups went.

use crate::codec::{self, CodecError};
use crate::envelope::{self, EnvelopeError, NonceMode};
use crate::id::{BackupId, ShardId};
use crate::keys::{MasterKey, OwnerId};
use crate::manifest::BackupInfo;
use crate::Cipher;
use serde::{Deserialize, Serialize};

/// Copies of an owner's catalogue record (its slot's holders).
pub const CATALOGUE_COPIES: usize = 5;
/// Largest encoded catalogue entry accepted.
pub const MAX_ENTRY_LEN: usize = 64 << 10;
/// Largest signed catalogue accepted (tens of thousands of backups).
pub const MAX_CATALOGUE_LEN: usize = 4 << 20;
const SIGNING_DOMAIN: &[u8] = b"shardnet catalogue v1";
/// The sequence number of a revocation: nothing can follow it.
pub const REVOKED_SEQ: u64 = u64::MAX;
const MAX_REVOCATION_LEN: usize = 256;
const SLOT_CONTEXT: &str = "shardnet 2026-11 catalogue slot v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    pub id: BackupId,
    pub info: BackupInfo,
    /// Distinct shards the backup references (chunks, manifest pieces, root).
    pub shards: u64,
    /// Bytes of those shards as stored (after compression and encryption).
    pub stored_bytes: u64,
    /// Shards this backup added that were not stored before.
    pub new_shards: u64,
    pub new_bytes: u64,
}

/// A deleted backup (`backup delete`): readers drop its entry from every
/// record, so a holder serving an older record cannot bring it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: BackupId,
    pub deleted_at: u64,
}

/// What a record seals: the backups, and the deleted ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    pub entries: Vec<CatalogueEntry>,
    pub tombstones: Vec<Tombstone>,
}

impl Contents {
    /// The entries no tombstone names.
    pub fn live(&self) -> impl Iterator<Item = &CatalogueEntry> {
        self.entries
            .iter()
            .filter(|e| !self.tombstones.iter().any(|t| t.id == e.id))
    }
}

/// The end of an owner key (`keys rotate`): its backups moved to
/// `successor`'s catalogue at `revoked_at` (unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub successor: OwnerId,
    pub revoked_at: u64,
}

/// An owner's catalogue as stored by peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCatalogue {
    /// The owner's ed25519 public key.
    pub owner: [u8; 32],
    /// Higher wins.
    pub seq: u64,
    /// Entries, encrypted (a shard envelope under the catalogue key).
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue signature does not verify")]
    BadSignature,
    #[error("catalogue owner key is malformed")]
    BadOwner,
    #[error("catalogue cannot be decrypted with this owner key")]
    WrongKey,
    #[error("this owner key was retired by `keys rotate` at {} (unix time); its backups moved to owner {}: restore with the new key's recovery string", .0.revoked_at, .0.successor)]
    Revoked(Revocation),
    #[error("catalogue: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

fn signed_bytes(owner: &[u8; 32], seq: u64, sealed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_DOMAIN.len() + 40 + sealed.len());
    m.extend_from_slice(SIGNING_DOMAIN);
    m.extend_from_slice(owner);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(sealed);
    m
}

/// The placement key of an owner's catalogue: peers responsible for this pseudo
/// shard id keep the record.
pub fn slot(owner_public: &[u8; 32]) -> ShardId {
    ShardId(blake3::derive_key(SLOT_CONTEXT, owner_public))
}

impl SignedCatalogue {
    /// Seals and signs `entries` (no tombstones) as version `seq`; `nonce`
    /// must be fresh random.
    pub fn create(
        master: &MasterKey,
        entries: &[CatalogueEntry],
        seq: u64,
        nonce: [u8; 12],
    ) -> Result<Self, CatalogueError> {
        let contents = Contents {
            entries: entries.to_vec(),
            tombstones: Vec::new(),
        };
        Self::create_contents(master, &contents, seq, nonce)
    }

    /// Seals and signs `contents` as version `seq`.
    pub fn create_contents(
        master: &MasterKey,
        contents: &Contents,
        seq: u64,
        nonce: [u8; 12],
    ) -> Result<Self, CatalogueError> {
        let plain = codec::encode::<_, MAX_CATALOGUE_LEN>("catalogue", contents)?;
        let sealed = envelope::seal(
            &plain,
            &master.catalogue_key(),
            Cipher::Aes256Gcm,
            NonceMode::Random(nonce),
        )?;
        let kp = master.signing_key();
        let owner = kp.public().to_bytes();
        let signature = kp.sign(&signed_bytes(&owner, seq, sealed.bytes()));
        Ok(SignedCatalogue {
            owner,
            seq,
            sealed: sealed.into_bytes(),
            signature,
        })
    }

    /// Signs the end of `master`'s catalogue (see [`Revocation`]).
    pub fn revoke(master: &MasterKey, r: &Revocation) -> Result<Self, CatalogueError> {
        let sealed = codec::encode::<_, MAX_REVOCATION_LEN>("revocation", r)?;
        let kp = master.signing_key();
        let owner = kp.public().to_bytes();
        let signature = kp.sign(&signed_bytes(&owner, REVOKED_SEQ, &sealed));
        Ok(SignedCatalogue {
            owner,
            seq: REVOKED_SEQ,
            sealed,
            signature,
        })
    }

    /// The revocation this record is, if it is one and verifies.
    pub fn revocation(&self) -> Option<Revocation> {
        if self.seq != REVOKED_SEQ || self.verify().is_err() {
            return None;
        }
        codec::decode::<Revocation, MAX_REVOCATION_LEN>("revocation", &self.sealed).ok()
    }

    /// The owner's public key, as the master key derives it.
    pub fn owner_of(master: &MasterKey) -> [u8; 32] {
        master.signing_key().public().to_bytes()
    }

    /// Checks the owner's signature (any peer can).
    pub fn verify(&self) -> Result<(), CatalogueError> {
        let pk = libp2p_identity::ed25519::PublicKey::try_from_bytes(&self.owner)
            .map_err(|_| CatalogueError::BadOwner)?;
        if pk.verify(
            &signed_bytes(&self.owner, self.seq, &self.sealed),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(CatalogueError::BadSignature)
        }
    }

    /// Verifies and decrypts the entries (tombstones included: see
    /// [`Contents::live`]).
    pub fn open(&self, master: &MasterKey) -> Result<Vec<CatalogueEntry>, CatalogueError> {
        Ok(self.open_contents(master)?.entries)
    }

    /// Verifies and decrypts the record. Records sealed before tombstones
    /// existed hold a bare list of entries.
    pub fn open_contents(&self, master: &MasterKey) -> Result<Contents, CatalogueError> {
        self.verify()?;
        if self.seq == REVOKED_SEQ {
            let r = codec::decode::<Revocation, MAX_REVOCATION_LEN>("revocation", &self.sealed)?;
            return Err(CatalogueError::Revoked(r));
        }
        let plain = envelope::open(&self.sealed, &master.catalogue_key()).map_err(|e| match e {
            EnvelopeError::Decrypt => CatalogueError::WrongKey,
            other => CatalogueError::Envelope(other),
        })?;
        match codec::decode::<Contents, MAX_CATALOGUE_LEN>("catalogue", &plain) {
            Ok(c) => Ok(c),
            Err(e) => {
                match codec::decode::<Vec<CatalogueEntry>, MAX_CATALOGUE_LEN>("catalogue", &plain) {
                    Ok(entries) => Ok(Contents {
                        entries,
                        tombstones: Vec::new(),
                    }),
                    Err(_) => Err(e.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tier;
    use rand::SeedableRng;

    fn entry(i: u8) -> CatalogueEntry {
        CatalogueEntry {
            id: ShardId([i; 32]),
            info: BackupInfo {
                name: format!("b{i}"),
                tier: Tier::Bronze,
                created_at: 1,
                expires_at: 2,
                sources: vec![],
                files: 1,
                dirs: 0,
                symlinks: 0,
                bytes: 3,
                chunks: 1,
            },
            shards: 1,
            stored_bytes: 4,
            new_shards: 1,
            new_bytes: 4,
        }
    }

    #[test]
    fn sign_verify_open_and_tamper() {
        let m = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(1));
        let c = SignedCatalogue::create(&m, &[entry(1), entry(2)], 7, [1; 12]).unwrap();
        assert_eq!(c.owner, SignedCatalogue::owner_of(&m));
        assert_eq!(c.open(&m).unwrap(), vec![entry(1), entry(2)]);
        let mut bumped = c.clone();
        bumped.seq = 8;
        assert!(matches!(bumped.verify(), Err(CatalogueError::BadSignature)));
        let other = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(2));
        assert!(matches!(c.open(&other), Err(CatalogueError::WrongKey)));
        let forged = SignedCatalogue::create(&other, &[entry(3)], 9, [1; 12]).unwrap();
        let mut stolen = forged.clone();
        stolen.owner = c.owner;
        assert!(stolen.verify().is_err());
    }

    #[test]
    fn tombstones_travel_in_the_record_and_hide_their_entries() {
        let m = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(3));
        let contents = Contents {
            entries: vec![entry(1), entry(2)],
            tombstones: vec![Tombstone {
                id: entry(1).id,
                deleted_at: 5,
            }],
        };
        let c = SignedCatalogue::create_contents(&m, &contents, 2, [2; 12]).unwrap();
        let back = c.open_contents(&m).unwrap();
        assert_eq!(back, contents);
        assert_eq!(back.live().cloned().collect::<Vec<_>>(), vec![entry(2)]);
        // A record sealed as a bare list (before tombstones) still opens.
        let plain = codec::encode::<_, MAX_CATALOGUE_LEN>("c", &vec![entry(3)]).unwrap();
        let sealed = envelope::seal(
            &plain,
            &m.catalogue_key(),
            Cipher::Aes256Gcm,
            NonceMode::Random([4; 12]),
        )
        .unwrap()
        .into_bytes();
        let owner = SignedCatalogue::owner_of(&m);
        let signature = m.signing_key().sign(&signed_bytes(&owner, 1, &sealed));
        let old = SignedCatalogue {
            owner,
            seq: 1,
            sealed,
            signature,
        };
        assert_eq!(old.open_contents(&m).unwrap().entries, vec![entry(3)]);
    }

    #[test]
    fn a_revocation_ends_the_record_and_names_the_successor() {
        let old = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(6));
        let new = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(7));
        let r = Revocation {
            successor: new.owner_id(),
            revoked_at: 99,
        };
        let c = SignedCatalogue::revoke(&old, &r).unwrap();
        assert_eq!(c.seq, REVOKED_SEQ);
        assert!(c.verify().is_ok());
        assert_eq!(c.revocation(), Some(r));
        // Nothing can follow it: no sequence number is higher.
        let later = SignedCatalogue::create(&old, &[entry(1)], u64::MAX - 1, [3; 12]).unwrap();
        assert!(later.seq < c.seq);
        assert!(matches!(
            c.open_contents(&old),
            Err(CatalogueError::Revoked(x)) if x == r
        ));
        assert!(c
            .open_contents(&old)
            .unwrap_err()
            .to_string()
            .contains(&new.owner_id().to_string()));
        // Another key cannot forge one for this owner, nor change the successor.
        let mut forged = SignedCatalogue::revoke(&new, &r).unwrap();
        forged.owner = c.owner;
        assert_eq!(forged.revocation(), None);
        let mut redirected = c.clone();
        redirected.sealed = codec::encode::<_, 256>(
            "r",
            &Revocation {
                successor: old.owner_id(),
                revoked_at: 99,
            },
        )
        .unwrap();
        assert_eq!(redirected.revocation(), None);
        // An ordinary record is no revocation.
        assert_eq!(later.revocation(), None);
    }

    proptest::proptest! {
        /// A validly signed record whose sealed bytes are garbage (an owner
        /// can sign anything): opening fails cleanly, never panics.
        #[test]
        fn garbage_in_a_record_never_panics(
            sealed in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            seq in proptest::prelude::any::<u64>(),
        ) {
            let m = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(5));
            let owner = SignedCatalogue::owner_of(&m);
            let signature = m.signing_key().sign(&signed_bytes(&owner, seq, &sealed));
            let c = SignedCatalogue { owner, seq, sealed, signature };
            proptest::prop_assert!(c.verify().is_ok());
            proptest::prop_assert!(c.open(&m).is_err());
        }
    }
}
