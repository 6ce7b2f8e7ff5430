//! Shard envelope v1: the exact bytes a peer stores.
//!
//! ```text
//! offset len field
//!  0      4  magic "SHRD"
//!  4      1  format version (1)
//!  5      1  cipher (1 = AES-256-GCM, 2 = ChaCha20-Poly1305)
//!  6      1  compression (0 = none, 1 = zstd)
//!  7      1  reserved, must be 0
//!  8      4  plaintext length (u32 LE, before compression)
//! 12      4  body length (u32 LE, ciphertext including the 16-byte tag)
//! 16     12  nonce
//! 28      …  body
//! ```
//!
//! The whole header is the AEAD's associated data, so no field can be altered
//! without failing decryption. The shard id is BLAKE3 of all these bytes.
//!
//! # Keys and nonces (why this is safe)
//!
//! The AEAD key is never the caller's key itself but `keyed BLAKE3(key, "aead" ||
//! cipher)`, so one key used with both ciphers yields unrelated AEAD keys.
//!
//! - **Convergent shards** (file chunks, manifest pieces): the key is a keyed hash of
//!   the plaintext, so a key only ever encrypts that one plaintext. The nonce must
//!   still differ whenever the encrypted *message* differs, because the same
//!   plaintext may be compressed differently (another zstd version or level). So:
//!   raw bodies use a nonce derived from the key alone (the message is then the
//!   plaintext itself, fixed by the key); compressed bodies use a synthetic nonce,
//!   a keyed hash of the compressed bytes (SIV-style). Equal messages give equal
//!   shards, which is the intended dedup; unequal messages get unequal nonces except
//!   with probability 2^-96 per pair.
//! - **Keyed shards** (manifest roots): one long-lived key, a fresh random 96-bit
//!   nonce per shard supplied by the caller; safe far beyond 2^32 shards per key
//!   would be needed before the birthday bound matters.

mod compress;
mod header;

pub use compress::ZSTD_LEVEL;
pub use header::{Cipher, Compression, Header};

use crate::id::ShardId;
use crate::keys::ShardKey;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;

pub const MAGIC: [u8; 4] = *b"SHRD";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 28;
pub const TAG_LEN: usize = 16;
pub const NONCE_LEN: usize = 12;
/// Largest plaintext one shard may carry: FastCDC's 4 MiB maximum chunk with
/// margin. Decoders refuse anything larger before allocating.
pub const MAX_PLAINTEXT_LEN: usize = 8 << 20;
/// Largest shard on the wire or on disk.
pub const MAX_SHARD_LEN: usize = HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;

/// How the nonce of a shard is chosen (see the module doc).
#[derive(Clone, Copy, Debug)]
pub enum NonceMode {
    /// Derived from the key (raw) or the compressed body (zstd): for convergent keys.
    Convergent,
    /// A fresh random nonce from the caller: for long-lived keys.
    Random([u8; NONCE_LEN]),
}

/// Why bytes are not a valid shard, or a shard could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("shard is {0} bytes, shorter than the {HEADER_LEN}-byte header and tag")]
    TooShort(usize),
    #[error("not a shardnet shard (bad magic)")]
    BadMagic,
    #[error("shard format version {0} is not supported by this shardnet (knows 1)")]
    UnsupportedVersion(u8),
    #[error("unknown cipher code {0}")]
    UnknownCipher(u8),
    #[error("unknown compression code {0}")]
    UnknownCompression(u8),
    #[error("reserved header byte is {0}, expected 0")]
    Reserved(u8),
    #[error("shard declares {declared} bytes of {what}, limit is {max}")]
    TooLarge {
        what: &'static str,
        declared: usize,
        max: usize,
    },
    #[error("shard declares a {declared}-byte body but carries {actual}")]
    BodyLength { declared: usize, actual: usize },
    #[error("decryption failed: wrong key, or the shard was altered")]
    Decrypt,
    #[error("decompression failed: {0}")]
    Decompress(String),
    #[error("plaintext is {actual} bytes, header says {declared}")]
    PlainLength { declared: usize, actual: usize },
    #[error("compression failed: {0}")]
    Compress(String),
}

/// A sealed shard: its bytes and their id. Only [`seal`] makes one, so a `Sealed`
/// is proof that `id` is the hash of `bytes` (the store need not hash it again).
#[derive(Clone, Debug)]
pub struct Sealed {
    id: ShardId,
    bytes: Vec<u8>,
    plain_len: u32,
}

impl Sealed {
    pub fn id(&self) -> ShardId {
        self.id
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
    /// Plaintext length.
    pub fn plain_len(&self) -> u32 {
        self.plain_len
    }
}

fn aead_key(key: &ShardKey, cipher: Cipher) -> [u8; 32] {
    *blake3::keyed_hash(&key.0, &[b'a', b'e', b'a', b'd', cipher.code()]).as_bytes()
}

fn convergent_nonce(aead_key: &[u8; 32], compression: Compression, body: &[u8]) -> [u8; 12] {
    let h = match compression {
        Compression::None => blake3::keyed_hash(aead_key, b"raw nonce"),
        Compression::Zstd => blake3::keyed_hash(aead_key, body),
    };
    h.as_bytes()[..NONCE_LEN]
        .try_into()
        .expect("12 of 32 bytes") // ok: checked length
}

/// Encrypts `buf` in place under `key` with a zero nonce and no associated data,
/// returning the tag: the bare AEAD, for measuring this machine's limit in
/// `shardnet bench` with the exact code (and compiler settings) shards use.
pub fn raw_encrypt_for_bench(cipher: Cipher, key: &[u8; 32], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let n = aes_gcm::Nonce::from([0u8; NONCE_LEN]);
    let tag = match cipher {
        Cipher::Aes256Gcm => Aes256Gcm::new(key.into()).encrypt_inout_detached(&n, b"", buf.into()),
        Cipher::ChaCha20Poly1305 => {
            ChaCha20Poly1305::new(key.into()).encrypt_inout_detached(&n, b"", buf.into())
        }
    };
    tag.map(|t| t.into()).unwrap_or([0; TAG_LEN])
}

/// Seals `plain` into a shard under `key`.
pub fn seal(
    plain: &[u8],
    key: &ShardKey,
    cipher: Cipher,
    nonce_mode: NonceMode,
) -> Result<Sealed, EnvelopeError> {
    check_plain_len(plain.len())?;
    match compress::maybe(plain)? {
        Some(c) => finish(
            with_room(&c),
            plain.len(),
            Compression::Zstd,
            key,
            cipher,
            nonce_mode,
        ),
        None => finish(
            with_room(plain),
            plain.len(),
            Compression::None,
            key,
            cipher,
            nonce_mode,
        ),
    }
}

/// `body` after header room, with capacity for the tag.
fn with_room(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + TAG_LEN);
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(body);
    out
}

/// Bytes a caller leaves free before a plaintext for [`seal_in_place`].
pub const HEADROOM: usize = HEADER_LEN;

/// As [`seal`], for a plaintext the caller owns, laid out as `HEADROOM`
/// bytes of room followed by the plaintext (capacity for [`TAG_LEN`] more
/// saves a reallocation): a raw body is encrypted where it lies, so the
/// plaintext is never copied (a compressed one is, as by [`seal`]).
pub fn seal_in_place(
    mut buf: Vec<u8>,
    key: &ShardKey,
    cipher: Cipher,
    nonce_mode: NonceMode,
) -> Result<Sealed, EnvelopeError> {
    let Some(plain) = buf.get(HEADROOM..) else {
        return Err(EnvelopeError::TooShort(buf.len()));
    };
    check_plain_len(plain.len())?;
    let plain_len = plain.len();
    if let Some(c) = compress::maybe(plain)? {
        // Compressed once, here: the body is the smaller compressed copy.
        let room = with_room(&c);
        return finish(room, plain_len, Compression::Zstd, key, cipher, nonce_mode);
    }
    buf[..HEADROOM].fill(0);
    finish(buf, plain_len, Compression::None, key, cipher, nonce_mode)
}

fn check_plain_len(len: usize) -> Result<(), EnvelopeError> {
    if len > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::TooLarge {
            what: "plaintext",
            declared: len,
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(())
}

/// Encrypts `out` = header room + body in place, writes the header into the
/// room and appends the tag.
fn finish(
    mut out: Vec<u8>,
    plain_len: usize,
    compression: Compression,
    key: &ShardKey,
    cipher: Cipher,
    nonce_mode: NonceMode,
) -> Result<Sealed, EnvelopeError> {
    let k = aead_key(key, cipher);
    let nonce = match nonce_mode {
        NonceMode::Convergent => convergent_nonce(&k, compression, &out[HEADER_LEN..]),
        NonceMode::Random(n) => n,
    };
    let header = Header {
        cipher,
        compression,
        plain_len: plain_len as u32,
        body_len: (out.len() - HEADER_LEN + TAG_LEN) as u32,
        nonce,
    }
    .encode();
    out[..HEADER_LEN].copy_from_slice(&header);
    let tag: [u8; TAG_LEN] = {
        let buf = &mut out[HEADER_LEN..];
        let n = aes_gcm::Nonce::from(nonce);
        match cipher {
            Cipher::Aes256Gcm => Aes256Gcm::new(&k.into())
                .encrypt_inout_detached(&n, &header, buf.into())
                .map(Into::into),
            Cipher::ChaCha20Poly1305 => ChaCha20Poly1305::new(&k.into())
                .encrypt_inout_detached(&n, &header, buf.into())
                .map(Into::into),
        }
        // Only fails for buffers beyond the AEAD's 64 GiB limit, excluded above.
        .map_err(|_| EnvelopeError::Decrypt)?
    };
    out.extend_from_slice(&tag);
    Ok(Sealed {
        id: ShardId::of(&out),
        bytes: out,
        plain_len: plain_len as u32,
    })
}

/// Opens a shard: checks the header, decrypts and decompresses, and returns the
/// plaintext. Fails with [`EnvelopeError::Decrypt`] on a wrong key or any change.
pub fn open(shard: &[u8], key: &ShardKey) -> Result<Vec<u8>, EnvelopeError> {
    let h = Header::decode(shard)?;
    let body_end = shard.len() - TAG_LEN;
    let mut body = shard[HEADER_LEN..body_end].to_vec();
    decrypt(&h, key, &shard[..HEADER_LEN], &mut body, &shard[body_end..])?;
    Ok(plain(&h, Opened::whole(body))?.into_vec())
}

/// As [`open`], for a shard the caller owns: a raw body is decrypted where
/// it lies and handed back in place, so a restore copies no plaintext
/// (a compressed body is decompressed into a new buffer, as by [`open`]).
pub fn open_owned(mut shard: Vec<u8>, key: &ShardKey) -> Result<Opened, EnvelopeError> {
    let h = Header::decode(&shard)?;
    let body_end = shard.len() - TAG_LEN;
    let (header, rest) = shard.split_at_mut(HEADER_LEN);
    let (body, tag) = rest.split_at_mut(body_end - HEADER_LEN);
    decrypt(&h, key, header, body, tag)?;
    plain(
        &h,
        Opened {
            buf: shard,
            start: HEADER_LEN,
            end: body_end,
        },
    )
}

/// A shard's plaintext, where [`open_owned`] left it.
#[derive(Debug)]
pub struct Opened {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Opened {
    fn whole(buf: Vec<u8>) -> Self {
        let end = buf.len();
        Opened { buf, start: 0, end }
    }

    /// The plaintext as a vector of its own (a copy only if it lies inside
    /// the shard's buffer).
    pub fn into_vec(self) -> Vec<u8> {
        if self.start == 0 && self.end == self.buf.len() {
            self.buf
        } else {
            self.buf[self.start..self.end].to_vec()
        }
    }
}

impl std::ops::Deref for Opened {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

/// Decrypts `body` in place under `key` and checks `tag` over `header` too.
fn decrypt(
    h: &Header,
    key: &ShardKey,
    header: &[u8],
    body: &mut [u8],
    tag: &[u8],
) -> Result<(), EnvelopeError> {
    let k = aead_key(key, h.cipher);
    let n = aes_gcm::Nonce::from(h.nonce);
    // Both AEADs have 16-byte tags; a slice of another length opens nothing.
    let tag = <aes_gcm::Tag>::try_from(tag).map_err(|_| EnvelopeError::Decrypt)?;
    match h.cipher {
        Cipher::Aes256Gcm => {
            Aes256Gcm::new(&k.into()).decrypt_inout_detached(&n, header, body.into(), &tag)
        }
        Cipher::ChaCha20Poly1305 => {
            ChaCha20Poly1305::new(&k.into()).decrypt_inout_detached(&n, header, body.into(), &tag)
        }
    }
    .map_err(|_| EnvelopeError::Decrypt)
}

/// The plaintext of a decrypted body: decompressed if it was compressed,
/// and of the length the header declares.
fn plain(h: &Header, body: Opened) -> Result<Opened, EnvelopeError> {
    let plain = match h.compression {
        Compression::None => body,
        Compression::Zstd => Opened::whole(compress::decompress(&body, h.plain_len)?),
    };
    if plain.len() != h.plain_len as usize {
        return Err(EnvelopeError::PlainLength {
            declared: h.plain_len as usize,
            actual: plain.len(),
        });
    }
    Ok(plain)
}

#[cfg(test)]
mod tests;
