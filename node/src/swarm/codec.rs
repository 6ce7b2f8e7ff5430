//! The request-response codec of `/shardnet/shard/2` (and `/1`, for
//! nodes of earlier builds): length-prefixed bincode
//! frames ([`shardnet_protocol::wire`]), every length checked against
//! `MAX_FRAME_LEN` before a byte is allocated. A peer that sends more, or
//! garbage, gets its stream failed with `InvalidData`.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use shardnet_protocol::wire::{
    self, Request, Response, MAX_FRAME_LEN, SHARD_PROTOCOL_V1, SHARD_PROTOCOL_V2,
};
use std::io;

#[derive(Clone, Debug, Default)]
pub(crate) struct ShardCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Writes one frame whose body is `head` then `tail`, without joining them.
async fn write_frame_parts<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    head: &[u8],
    tail: &[u8],
) -> io::Result<()> {
    let len = u32::try_from(head.len() + tail.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(head).await?;
    if !tail.is_empty() {
        io.write_all(tail).await?;
    }
    io.close().await
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl libp2p::request_response::Codec for ShardCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Request> {
        // libp2p reports a failed `read_request` only at debug level and emits
        // no event (the remote's id is not known here), so refusals of
        // malformed input are logged here.
        let body = read_frame(io).await.inspect_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                tracing::warn!("refused an inbound request: {e}");
            }
        })?;
        wire::decode_request(body)
            .map_err(invalid)
            .inspect_err(|e| tracing::warn!("refused an inbound request: {e}"))
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Response> {
        let body = read_frame(io).await?;
        wire::decode("response", &body).map_err(invalid)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()> {
        // A peer that negotiated an earlier version gets only what that
        // version has.
        let req = match protocol.as_ref() {
            SHARD_PROTOCOL_V1 => req.for_version(1),
            SHARD_PROTOCOL_V2 => req.for_version(2),
            _ => req,
        };
        // A store's shard is written from its own (shared) buffer, not
        // copied into the frame; the other fields go now.
        let (head, tail) = wire::encode_request_parts(&req).map_err(invalid)?;
        drop(req);
        write_frame_parts(io, &head, tail.as_deref().unwrap_or_default()).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()> {
        // A shard is written from the answer's own buffer: a slow reader
        // holds one copy of it, not two.
        let (head, tail) = wire::encode_response_parts(&res).map_err(invalid)?;
        write_frame_parts(io, &head, tail.unwrap_or_default()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec;
    use shardnet_protocol::ShardId;

    fn store_prove() -> Request {
        Request::StoreProve {
            id: ShardId([1; 32]),
            leases: vec![],
            bytes: bytes::Bytes::from(vec![9; 64]),
            avoid: None,
            nonce: [2; 32],
        }
    }

    async fn written(protocol: &'static str, req: Request) -> Request {
        let mut out = futures::io::Cursor::new(Vec::new());
        ShardCodec
            .write_request(&StreamProtocol::new(protocol), &mut out, req)
            .await
            .unwrap();
        let mut back = futures::io::Cursor::new(out.into_inner());
        ShardCodec
            .read_request(&StreamProtocol::new(protocol), &mut back)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_version_one_peer_gets_a_plain_store() {
        let v1 = written(SHARD_PROTOCOL_V1, store_prove()).await;
        assert_eq!(v1, store_prove().for_version(1));
        assert!(matches!(v1, Request::Store { .. }));
        let v2 = written(SHARD_PROTOCOL_V2, store_prove()).await;
        assert_eq!(v2, store_prove());
        let v3 = written(wire::SHARD_PROTOCOL, store_prove()).await;
        assert_eq!(v3, store_prove());
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_allocation() {
        let mut frame = (MAX_FRAME_LEN as u32 + 1).to_be_bytes().to_vec();
        frame.extend_from_slice(&[0; 16]);
        let mut io = futures::io::Cursor::new(frame);
        let e = ShardCodec
            .read_request(&StreamProtocol::new(wire::SHARD_PROTOCOL), &mut io)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
