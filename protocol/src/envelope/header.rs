//! The envelope's 28-byte header: the cipher and compression codes and their
//! names, and the one strict decoder of remote header bytes (every length
//! checked against the limits and the shard's real size before anything is
//! allocated).

use super::{
    EnvelopeError, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_PLAINTEXT_LEN, NONCE_LEN, TAG_LEN,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Cipher {
    #[default]
    Aes256Gcm,
    ChaCha20Poly1305,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    None,
    Zstd,
}

/// Decoded header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub cipher: Cipher,
    pub compression: Compression,
    pub plain_len: u32,
    pub body_len: u32,
    pub nonce: [u8; NONCE_LEN],
}

impl Cipher {
    pub(super) fn code(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::ChaCha20Poly1305 => 2,
        }
    }

    fn from_code(c: u8) -> Result<Self, EnvelopeError> {
        match c {
            1 => Ok(Cipher::Aes256Gcm),
            2 => Ok(Cipher::ChaCha20Poly1305),
            other => Err(EnvelopeError::UnknownCipher(other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cipher {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "aes-256-gcm" | "aes" | "aes256gcm" => Ok(Cipher::Aes256Gcm),
            "chacha20-poly1305" | "chacha" | "chacha20poly1305" => Ok(Cipher::ChaCha20Poly1305),
            _ => Err(format!(
                "unknown cipher {s:?}: expected aes-256-gcm or chacha20-poly1305"
            )),
        }
    }
}

impl Compression {
    pub(super) fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }
    fn from_code(c: u8) -> Result<Self, EnvelopeError> {
        match c {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Zstd),
            other => Err(EnvelopeError::UnknownCompression(other)),
        }
    }
}

impl Header {
    pub(super) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_VERSION;
        h[5] = self.cipher.code();
        h[6] = self.compression.code();
        h[8..12].copy_from_slice(&self.plain_len.to_le_bytes());
        h[12..16].copy_from_slice(&self.body_len.to_le_bytes());
        h[16..28].copy_from_slice(&self.nonce);
        h
    }

    /// Parses and checks the header of a whole shard (`bytes` = header + body):
    /// every length is checked against the limits and against `bytes.len()`.
    pub fn decode(bytes: &[u8]) -> Result<Header, EnvelopeError> {
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(EnvelopeError::TooShort(bytes.len()));
        }
        if bytes[0..4] != MAGIC {
            return Err(EnvelopeError::BadMagic);
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(bytes[4]));
        }
        let cipher = Cipher::from_code(bytes[5])?;
        let compression = Compression::from_code(bytes[6])?;
        if bytes[7] != 0 {
            return Err(EnvelopeError::Reserved(bytes[7]));
        }
        let plain_len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")); // ok: checked length
        let body_len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")); // ok: checked length
        if plain_len as usize > MAX_PLAINTEXT_LEN {
            return Err(EnvelopeError::TooLarge {
                what: "plaintext",
                declared: plain_len as usize,
                max: MAX_PLAINTEXT_LEN,
            });
        }
        if body_len as usize > MAX_PLAINTEXT_LEN + TAG_LEN {
            return Err(EnvelopeError::TooLarge {
                what: "body",
                declared: body_len as usize,
                max: MAX_PLAINTEXT_LEN + TAG_LEN,
            });
        }
        let actual = bytes.len() - HEADER_LEN;
        if body_len as usize != actual || actual < TAG_LEN {
            return Err(EnvelopeError::BodyLength {
                declared: body_len as usize,
                actual,
            });
        }
        if compression == Compression::None && plain_len as usize + TAG_LEN != actual {
            return Err(EnvelopeError::PlainLength {
                declared: plain_len as usize,
                actual: actual - TAG_LEN,
            });
        }
        let nonce = bytes[16..28].try_into().expect("12 bytes"); // ok: checked length
        Ok(Header {
            cipher,
            compression,
            plain_len,
            body_len,
            nonce,
        })
    }
}
