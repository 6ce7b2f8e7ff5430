//! [`Client`]: the cloneable handle services use to drive the swarm.

use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use shardnet_protocol::wire::{Request, Response};
use tokio::sync::{mpsc, oneshot};

/// Why a request to a peer got no response. The remote may or may not have
/// acted on it (a store may have happened even if the answer was lost).
#[derive(Clone, Debug, thiserror::Error)]
pub enum TransferError {
    #[error("peer {peer}: {reason}")]
    Failed { peer: PeerId, reason: String },
    #[error("the node is shutting down")]
    Shutdown,
}

/// Connection-level status of the node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NetStatus {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub connected: Vec<String>,
}

pub(super) enum Command {
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, TransferError>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Publish {
        topic: &'static str,
        data: Vec<u8>,
    },
    AddAddress {
        peer: PeerId,
        addr: Multiaddr,
    },
    Status {
        reply: oneshot::Sender<NetStatus>,
    },
}

#[derive(Clone, Debug)]
pub struct Client {
    tx: mpsc::Sender<Command>,
    local: PeerId,
}

impl Client {
    pub(super) fn new(tx: mpsc::Sender<Command>, local: PeerId) -> Self {
        Client { tx, local }
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Sends `request` to `peer` and waits for its response.
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, TransferError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Request {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| TransferError::Shutdown)?;
        rx.await.map_err(|_| TransferError::Shutdown)?
    }

    /// Answers an inbound request.
    pub async fn respond(&self, channel: ResponseChannel<Response>, response: Response) {
        let _ = self.tx.send(Command::Respond { channel, response }).await;
    }

    pub async fn publish(&self, topic: &'static str, data: Vec<u8>) {
        let _ = self.tx.send(Command::Publish { topic, data }).await;
    }

    pub async fn add_address(&self, peer: PeerId, addr: Multiaddr) {
        let _ = self.tx.send(Command::AddAddress { peer, addr }).await;
    }

    pub async fn status(&self) -> Option<NetStatus> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Status { reply }).await.ok()?;
        rx.await.ok()
    }
}
