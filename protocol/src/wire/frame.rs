//! Frame bodies: bincode under the frame limit, plus the two-part
//! (zero-copy) paths for the messages that carry a shard. A `StoreProve` is
//! written as a head and then the shard bytes all its copies share, and read
//! back with the shard borrowed from the frame buffer; a `Shard` answer is
//! written from the answer's own buffer. The encodings equal the plain ones
//! (the tests and the `wire_request` fuzz target check it).

use super::{Request, Response, MAX_FRAME_LEN};
use crate::codec::{self, CodecError};
use crate::id::ShardId;
use crate::lease::{Avoid, Lease};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Encodes a message body (without the length prefix).
pub fn encode<T: Serialize>(what: &'static str, msg: &T) -> Result<Vec<u8>, CodecError> {
    codec::encode::<_, MAX_FRAME_LEN>(what, msg)
}

/// Decodes a message body.
pub fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, CodecError> {
    let v: T = codec::decode::<_, MAX_FRAME_LEN>(what, body)?;
    Ok(v)
}

/// Variant index of [`Request::StoreProve`] in the encoding
/// (`store_prove_variant_is_fourteenth` checks it).
pub(super) const STORE_PROVE_VARIANT: u32 = 13;

/// A request's frame body in two parts: written one after the other they
/// are what [`encode`] gives, but the second is a `StoreProve`'s shard
/// bytes themselves (shared, not copied into the frame).
pub fn encode_request_parts(req: &Request) -> Result<(Vec<u8>, Option<Bytes>), CodecError> {
    let Request::StoreProve {
        id,
        leases,
        avoid,
        nonce,
        bytes,
    } = req
    else {
        return Ok((encode("request", req)?, None));
    };
    let head = Request::StoreProve {
        id: *id,
        leases: leases.clone(),
        avoid: avoid.clone(),
        nonce: *nonce,
        bytes: Bytes::new(),
    };
    let head = encode("request", &head)?;
    Ok((
        with_length(head, "request", bytes.len())?,
        Some(bytes.clone()),
    ))
}

/// A response's frame body in two parts, as [`encode_request_parts`]: a
/// `Shard`'s bytes are written from where they lie, not copied into the
/// frame.
pub fn encode_response_parts(res: &Response) -> Result<(Vec<u8>, Option<&[u8]>), CodecError> {
    let Response::Shard(bytes) = res else {
        return Ok((encode("response", res)?, None));
    };
    let head = encode("response", &Response::Shard(Vec::new()))?;
    Ok((with_length(head, "response", bytes.len())?, Some(bytes)))
}

/// The encoding of a message whose last field is empty bytes, made the
/// head of the same message with `len` bytes there: the empty bytes'
/// length prefix (a single zero) ends it, and the real length takes its
/// place.
fn with_length(mut head: Vec<u8>, what: &'static str, len: usize) -> Result<Vec<u8>, CodecError> {
    if head.pop() != Some(0) {
        return Err(CodecError::Encode {
            what,
            reason: "unexpected encoding of an empty byte string".into(),
        });
    }
    let prefix = bincode::encode_to_vec(len as u64, bincode::config::standard()).map_err(|e| {
        CodecError::Encode {
            what,
            reason: e.to_string(),
        }
    })?;
    head.extend_from_slice(&prefix);
    if head.len() + len > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge {
            what,
            len: head.len() + len,
            max: MAX_FRAME_LEN,
        });
    }
    Ok(head)
}

/// A `StoreProve` as it lies in a frame, its bytes borrowed from it.
#[derive(Deserialize)]
struct StoreProveRef<'a> {
    id: ShardId,
    leases: Vec<Lease>,
    avoid: Option<Avoid>,
    nonce: [u8; 32],
    #[serde(borrow)]
    bytes: &'a [u8],
}

/// Decodes a request frame body as [`decode`] does, with the same limits;
/// a `StoreProve`'s shard bytes stay where they are in `body` (no copy).
pub fn decode_request(body: Vec<u8>) -> Result<Request, CodecError> {
    let malformed = |e: bincode::error::DecodeError| CodecError::Malformed {
        what: "request",
        reason: e.to_string(),
    };
    if body.len() > MAX_FRAME_LEN {
        return Err(CodecError::TooLarge {
            what: "request",
            len: body.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let cfg = bincode::config::standard().with_limit::<MAX_FRAME_LEN>();
    let (variant, at): (u32, usize) = bincode::decode_from_slice(&body, cfg).map_err(malformed)?;
    if variant != STORE_PROVE_VARIANT {
        return decode("request", &body);
    }
    let (r, used): (StoreProveRef, usize) =
        bincode::serde::borrow_decode_from_slice(&body[at..], cfg).map_err(malformed)?;
    if at + used != body.len() {
        return Err(CodecError::Trailing {
            what: "request",
            extra: body.len() - at - used,
        });
    }
    // Where the bytes lie in the frame: they are a subslice of it.
    let start = r.bytes.as_ptr() as usize - body.as_ptr() as usize;
    let end = start + r.bytes.len();
    let (id, leases, avoid, nonce) = (r.id, r.leases, r.avoid, r.nonce);
    Ok(Request::StoreProve {
        id,
        leases,
        avoid: avoid.map(Box::new),
        nonce,
        bytes: Bytes::from(body).slice(start..end),
    })
}
