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
mod tests;
