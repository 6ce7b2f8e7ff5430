//! Backup manifests: the file tree of one backup and, for every file, the ordered
//! list of chunks (shard id, shard key, length).
//!
//! A manifest is serialised (bincode), cut into pieces of [`PIECE_LEN`], and each
//! piece is sealed as a *convergent* shard under the owner's manifest piece key, so
//! a large tree never makes one giant shard and an unchanged tree dedups. A small
//! *root* (backup info + the piece list) is sealed under the owner's manifest key
//! with a random nonce; the backup id is the root's shard id. Only the owner key
//! is needed to go from a backup id to every byte of the backup.

use crate::codec::{self, CodecError};
use crate::envelope::{self, Cipher, EnvelopeError, NonceMode, Sealed, NONCE_LEN};
use crate::id::ShardId;
use crate::keys::{MasterKey, ShardKey};
use crate::tier::Tier;
use serde::{Deserialize, Serialize};

mod stripes;

pub use stripes::{Stored, StripeRef};

/// Version of the manifest structures below: 2 when some chunks are stored
/// as pieces (`stripes`), else 1, as before pieces existed.
pub const MANIFEST_FORMAT: u32 = 2;
/// Size of one manifest piece (before compression).
pub const PIECE_LEN: usize = 1 << 20;
/// Largest serialised manifest accepted: about four million files.
pub const MAX_MANIFEST_LEN: usize = 1 << 30;
/// Largest serialised root accepted (1,024 pieces' references fit in ~80 KiB).
pub const MAX_ROOT_LEN: usize = 4 << 20;
/// Longest path or symlink target accepted, as on Linux.
pub const MAX_PATH_LEN: usize = 4096;

/// What a backup is, as shown by `backup list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    pub name: String,
    pub tier: Tier,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; `tier.expires_at(created_at)` unless extended.
    pub expires_at: u64,
    /// The source paths as given on the command line.
    pub sources: Vec<String>,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Sum of file sizes.
    pub bytes: u64,
    /// Chunks referenced (with repeats).
    pub chunks: u64,
}

/// One chunk of a file, or one piece of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub id: ShardId,
    pub key: ShardKey,
    /// Plaintext length.
    pub len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    Dir,
    File { size: u64, chunks: Vec<ChunkRef> },
    Symlink { target: Vec<u8> },
}

/// A file-system object, at a relative, '/'-separated path (raw bytes: Unix names
/// need not be UTF-8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub kind: EntryKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub info: BackupInfo,
    pub entries: Vec<Entry>,
    /// The chunks stored as erasure-coded pieces, sorted by shard id.
    pub stripes: Vec<StripeRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRoot {
    pub format: u32,
    pub info: BackupInfo,
    pub manifest_len: u64,
    pub pieces: Vec<ChunkRef>,
}

/// A manifest ready to store: every piece, then the root (whose id is the backup id).
#[derive(Debug)]
pub struct SealedManifest {
    pub root: Sealed,
    pub pieces: Vec<Sealed>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("manifest shard: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("this backup's root cannot be decrypted with this owner key (wrong key, or not a backup id)")]
    WrongKey,
    #[error("manifest format {0} is not supported (this shardnet knows {MANIFEST_FORMAT})")]
    Format(u32),
    #[error("manifest piece {index} does not match its reference")]
    PieceMismatch { index: usize },
    #[error("expected {expected} manifest pieces, got {got}")]
    PieceCount { expected: usize, got: usize },
    #[error("manifest is {got} bytes, root says {expected}")]
    Length { expected: u64, got: u64 },
    #[error("manifest holds an unsafe path {0:?}")]
    BadPath(String),
    #[error("manifest lists shard {0}'s pieces out of order or with a wrong count")]
    BadStripe(ShardId),
}

/// Checks that `path` is relative, normalised and free of `..`, so that restoring
/// it can never write outside the destination.
pub fn validate_path(path: &[u8]) -> Result<(), ManifestError> {
    let bad = || ManifestError::BadPath(String::from_utf8_lossy(path).into_owned());
    if path.is_empty() || path.len() > MAX_PATH_LEN || path[0] == b'/' || path.contains(&0) {
        return Err(bad());
    }
    if path
        .split(|b| *b == b'/')
        .any(|c| c.is_empty() || c == b"." || c == b"..")
    {
        return Err(bad());
    }
    Ok(())
}

/// Serialises and seals `manifest`. `root_nonce` must be fresh random bytes.
pub fn seal_manifest(
    manifest: &Manifest,
    master: &MasterKey,
    cipher: Cipher,
    root_nonce: [u8; NONCE_LEN],
) -> Result<SealedManifest, ManifestError> {
    // Without pieces, format 1 as before: older builds read it, and an
    // unchanged tree dedups against backups made before pieces existed.
    let (format, bytes) = if manifest.stripes.is_empty() {
        let v1 = stripes::ManifestV1Ref {
            info: &manifest.info,
            entries: &manifest.entries,
        };
        (1, codec::encode::<_, MAX_MANIFEST_LEN>("manifest", &v1)?)
    } else {
        (
            2,
            codec::encode::<_, MAX_MANIFEST_LEN>("manifest", manifest)?,
        )
    };
    let conv = master.manifest_piece_key();
    let mut pieces = Vec::new();
    let mut refs = Vec::new();
    for part in bytes.chunks(PIECE_LEN) {
        let key = conv.key_for(part);
        let sealed = envelope::seal(part, &key, cipher, NonceMode::Convergent)?;
        refs.push(ChunkRef {
            id: sealed.id(),
            key,
            len: part.len() as u32,
        });
        pieces.push(sealed);
    }
    let root = ManifestRoot {
        format,
        info: manifest.info.clone(),
        manifest_len: bytes.len() as u64,
        pieces: refs,
    };
    let root_bytes = codec::encode::<_, MAX_ROOT_LEN>("manifest root", &root)?;
    let root = envelope::seal(
        &root_bytes,
        &master.manifest_key(),
        cipher,
        NonceMode::Random(root_nonce),
    )?;
    Ok(SealedManifest { root, pieces })
}

/// Opens a root shard (already checked against its id by the caller).
pub fn open_root(shard: &[u8], master: &MasterKey) -> Result<ManifestRoot, ManifestError> {
    let plain = envelope::open(shard, &master.manifest_key()).map_err(|e| match e {
        EnvelopeError::Decrypt => ManifestError::WrongKey,
        other => ManifestError::Envelope(other),
    })?;
    decode_root(&plain)
}

/// Decodes and checks a root's plaintext (the decoder behind [`open_root`]).
pub fn decode_root(plain: &[u8]) -> Result<ManifestRoot, ManifestError> {
    let root: ManifestRoot = codec::decode::<_, MAX_ROOT_LEN>("manifest root", plain)?;
    if root.format == 0 || root.format > MANIFEST_FORMAT {
        return Err(ManifestError::Format(root.format));
    }
    Ok(root)
}

/// Rebuilds the manifest from the root and its piece shards (in root order).
pub fn open_manifest(root: &ManifestRoot, shards: &[Vec<u8>]) -> Result<Manifest, ManifestError> {
    if shards.len() != root.pieces.len() {
        return Err(ManifestError::PieceCount {
            expected: root.pieces.len(),
            got: shards.len(),
        });
    }
    if root.manifest_len > MAX_MANIFEST_LEN as u64 {
        return Err(CodecError::TooLarge {
            what: "manifest",
            len: root.manifest_len as usize,
            max: MAX_MANIFEST_LEN,
        }
        .into());
    }
    let mut bytes = Vec::with_capacity(root.manifest_len as usize);
    for (index, (r, shard)) in root.pieces.iter().zip(shards).enumerate() {
        if !r.id.matches(shard) {
            return Err(ManifestError::PieceMismatch { index });
        }
        let plain = envelope::open(shard, &r.key)?;
        if plain.len() != r.len as usize {
            return Err(ManifestError::PieceMismatch { index });
        }
        bytes.extend_from_slice(&plain);
    }
    if bytes.len() as u64 != root.manifest_len {
        return Err(ManifestError::Length {
            expected: root.manifest_len,
            got: bytes.len() as u64,
        });
    }
    decode_manifest(root.format, &bytes)
}

/// Decodes and checks a manifest's plaintext of `format` (the decoder
/// behind [`open_manifest`]): every path is a plain relative path, every
/// symlink target bounded, every stripe well formed.
pub fn decode_manifest(format: u32, bytes: &[u8]) -> Result<Manifest, ManifestError> {
    let manifest: Manifest = match format {
        1 => {
            let v1: stripes::ManifestV1 = codec::decode::<_, MAX_MANIFEST_LEN>("manifest", bytes)?;
            Manifest {
                info: v1.info,
                entries: v1.entries,
                stripes: Vec::new(),
            }
        }
        2 => codec::decode::<_, MAX_MANIFEST_LEN>("manifest", bytes)?,
        other => return Err(ManifestError::Format(other)),
    };
    manifest.check_stripes()?;
    for e in &manifest.entries {
        validate_path(&e.path)?;
        if let EntryKind::Symlink { target } = &e.kind {
            if target.len() > MAX_PATH_LEN {
                return Err(ManifestError::BadPath(
                    String::from_utf8_lossy(target).into_owned(),
                ));
            }
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn info() -> BackupInfo {
        BackupInfo {
            name: "t".into(),
            tier: Tier::Silver,
            created_at: 1,
            expires_at: 2,
            sources: vec!["/x".into()],
            files: 0,
            dirs: 0,
            symlinks: 0,
            bytes: 0,
            chunks: 0,
        }
    }

    fn entry(i: usize) -> Entry {
        Entry {
            path: format!("dir/файл-{i}.txt").into_bytes(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: i as i64,
            mtime_nsec: 0,
            kind: EntryKind::File {
                size: 10,
                chunks: vec![ChunkRef {
                    id: ShardId([i as u8; 32]),
                    key: ShardKey([1; 32]),
                    len: 10,
                }],
            },
        }
    }

    fn master() -> MasterKey {
        MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(9))
    }

    fn round_trip(m: &Manifest) -> Manifest {
        let k = master();
        let s = seal_manifest(m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        let root = open_root(s.root.bytes(), &k).unwrap();
        let shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
        open_manifest(&root, &shards).unwrap()
    }

    #[test]
    fn large_tree_is_split_into_pieces() {
        let m = Manifest {
            info: info(),
            entries: (0..30_000).map(entry).collect(),
            stripes: Vec::new(),
        };
        let k = master();
        let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        assert!(s.pieces.len() >= 2, "{} pieces", s.pieces.len());
        assert!(s.pieces.iter().all(|p| p.bytes().len() <= PIECE_LEN + 64));
        assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn wrong_key_and_swapped_piece() {
        let m = Manifest {
            info: info(),
            entries: (0..30_000).map(entry).collect(),
            stripes: Vec::new(),
        };
        let k = master();
        let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        let other = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(10));
        assert!(matches!(
            open_root(s.root.bytes(), &other),
            Err(ManifestError::WrongKey)
        ));
        let root = open_root(s.root.bytes(), &k).unwrap();
        let mut shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
        shards.swap(0, 1);
        assert!(matches!(
            open_manifest(&root, &shards),
            Err(ManifestError::PieceMismatch { index: 0 })
        ));
        assert!(matches!(
            open_manifest(&root, &shards[..1]),
            Err(ManifestError::PieceCount { .. })
        ));
    }

    #[test]
    fn unsafe_paths_refused() {
        for p in [
            &b""[..],
            b"/etc/passwd",
            b"a/../../b",
            b"a//b",
            b"./a",
            b"a/\0",
        ] {
            assert!(
                validate_path(p).is_err(),
                "{:?}",
                String::from_utf8_lossy(p)
            );
        }
        validate_path("ok/ünïcode name/x".as_bytes()).unwrap();
        let mut m = Manifest {
            info: info(),
            entries: vec![entry(1)],
            stripes: Vec::new(),
        };
        m.entries[0].path = b"../escape".to_vec();
        let k = master();
        let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        let root = open_root(s.root.bytes(), &k).unwrap();
        let shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
        assert!(matches!(
            open_manifest(&root, &shards),
            Err(ManifestError::BadPath(_))
        ));
    }

    fn striped(n: usize) -> Manifest {
        let mut m = Manifest {
            info: info(),
            entries: (0..n).map(entry).collect(),
            stripes: Vec::new(),
        };
        // Every other chunk as 2+1 pieces, listed out of order.
        for i in (0..n).step_by(2).rev() {
            m.stripes.push(StripeRef {
                shard: ShardId([i as u8; 32]),
                data: 2,
                parity: 1,
                pieces: (0..3).map(|p| ShardId([100 + p; 32])).collect(),
            });
        }
        m.stripes.push(StripeRef {
            shard: ShardId([250; 32]),
            data: 2,
            parity: 1,
            pieces: vec![ShardId([1; 32]); 3],
        });
        m.tidy_stripes();
        m
    }

    #[test]
    fn stripes_round_trip_in_format_2_and_name_their_pieces() {
        let m = striped(6);
        // The unreferenced stripe went; the rest are sorted.
        assert_eq!(m.stripes.len(), 3);
        let k = master();
        let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        assert_eq!(open_root(s.root.bytes(), &k).unwrap().format, 2);
        assert_eq!(round_trip(&m), m);
        assert!(matches!(m.stored(&ShardId([2; 32])), Stored::Pieces(p) if p.pieces.len() == 3));
        assert_eq!(
            m.stored(&ShardId([1; 32])),
            Stored::Copies(ShardId([1; 32]))
        );
        let ids = m.stored_ids();
        // 3 chunks as copies, 3 as pieces sharing the same 3 piece ids here.
        assert_eq!(ids.iter().filter(|(_, p)| !p).count(), 3);
        assert_eq!(ids.iter().filter(|(_, p)| *p).count(), 9);
    }

    #[test]
    fn without_stripes_the_manifest_is_format_1_as_before() {
        #[derive(Serialize)]
        struct Old<'a> {
            info: &'a BackupInfo,
            entries: &'a [Entry],
        }
        let m = Manifest {
            info: info(),
            entries: (0..5).map(entry).collect(),
            stripes: Vec::new(),
        };
        let k = master();
        let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
        let root = open_root(s.root.bytes(), &k).unwrap();
        assert_eq!(root.format, 1);
        let old = codec::encode::<_, MAX_MANIFEST_LEN>(
            "m",
            &Old {
                info: &m.info,
                entries: &m.entries,
            },
        )
        .unwrap();
        assert_eq!(decode_manifest(1, &old).unwrap(), m);
        assert_eq!(root.manifest_len, old.len() as u64);
        assert!(matches!(
            decode_manifest(3, &old),
            Err(ManifestError::Format(3))
        ));
    }

    #[test]
    fn malformed_stripes_are_refused() {
        let good = striped(4);
        let mut short = good.clone();
        short.stripes[0].pieces.pop();
        let mut unsorted = good.clone();
        unsorted.stripes.swap(0, 1);
        let mut zero = good.clone();
        zero.stripes[0].parity = 0;
        zero.stripes[0].pieces.truncate(2);
        for bad in [short, unsorted, zero] {
            let bytes = codec::encode::<_, MAX_MANIFEST_LEN>("m", &bad).unwrap();
            assert!(matches!(
                decode_manifest(2, &bytes),
                Err(ManifestError::BadStripe(_))
            ));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn manifest_round_trip(n in 0usize..50, name in ".{0,40}", link in proptest::collection::vec(1u8..255, 1..100)) {
            let mut m = Manifest { info: BackupInfo { name, ..info() }, entries: (0..n).map(entry).collect(), stripes: Vec::new() };
            m.entries.push(Entry { path: b"l".to_vec(), mode: 0o777, uid: 1, gid: 2, mtime: -5, mtime_nsec: 7, kind: EntryKind::Symlink { target: link } });
            m.entries.push(Entry { path: b"d".to_vec(), mode: 0o755, uid: 1, gid: 2, mtime: 0, mtime_nsec: 0, kind: EntryKind::Dir });
            prop_assert_eq!(round_trip(&m), m);
        }

        #[test]
        fn root_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = codec::decode::<ManifestRoot, MAX_ROOT_LEN>("root", &data);
            let _ = decode_manifest(1, &data);
            let _ = decode_manifest(2, &data);
        }
    }
}
