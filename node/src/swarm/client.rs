//! [`Client`]: the cloneable handle services use to drive the swarm.

use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use shardnet_protocol::wire::{Request, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Why a request to a peer got no response. The remote may or may not have
/// acted on it (a store may have happened even if the answer was lost).
#[derive(Clone, Debug, thiserror::Error)]
pub enum TransferError {
    #[error("peer {peer}: {reason}")]
    Failed { peer: PeerId, reason: String },
    /// The connection closed before the answer came: the peer restarted,
    /// or one side closed it as idle just as the request began.
    #[error("peer {peer}: the connection closed before the answer came")]
    Closed { peer: PeerId },
    #[error("the node is shutting down")]
    Shutdown,
}

/// Connection-level status of the node.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NetStatus {
    pub peer_id: String,
    pub listen: Vec<String>,
    pub connected: Vec<String>,
    pub pressure: Pressure,
}

/// What the event loop refused rather than wait (it never waits on a
/// bounded queue): the node's load shedding, as `node status` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pressure {
    /// Inbound requests answered `Busy` because the services' queue was full.
    pub requests_busy: u64,
    /// Inbound requests answered `Busy` because too many response bytes
    /// were waiting for their requesters to read them.
    pub requests_over_budget: u64,
    /// Gossip messages and pings dropped because the queue was half full
    /// (the other half is kept for requests).
    pub gossip_dropped: u64,
    /// Gossip messages over their publisher's rate: neither passed on
    /// nor forwarded.
    pub gossip_over_rate: u64,
    /// Gossip messages rejected as malformed (their forwarders lose score).
    #[serde(default)]
    pub gossip_invalid: u64,
    /// Commands services could not queue (addresses, answers, gossip).
    pub commands_dropped: u64,
    /// Response bytes waiting for their requesters now.
    pub response_bytes_in_flight: u64,
}

/// Where the answer to one inbound request goes.
#[derive(Debug)]
pub struct Reply {
    pub(super) id: libp2p::request_response::InboundRequestId,
    pub(super) channel: ResponseChannel<Response>,
}

pub(super) enum Command {
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, TransferError>>,
    },
    Respond {
        channel: Reply,
        response: Response,
    },
    Publish {
        topic: &'static str,
        data: Vec<u8>,
        /// Told whether gossipsub sent it to any peer.
        sent: Option<tokio::sync::oneshot::Sender<bool>>,
    },
    AddAddress {
        peer: PeerId,
        addr: Multiaddr,
    },
    Status {
        reply: oneshot::Sender<NetStatus>,
    },
    /// Closes every connection to the peer (see [`Client::try_disconnect`]).
    Disconnect {
        peer: PeerId,
    },
}

/// The peers connected now, kept by the event loop and read by clients
/// (bounded by the connection limits).
#[derive(Clone, Debug, Default)]
pub(crate) struct Connected(Arc<std::sync::Mutex<std::collections::HashSet<PeerId>>>);

impl Connected {
    fn set(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<PeerId>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn insert(&self, peer: PeerId) {
        self.set().insert(peer);
    }

    pub(super) fn remove(&self, peer: &PeerId) {
        self.set().remove(peer);
    }

    fn contains(&self, peer: &PeerId) -> bool {
        self.set().contains(peer)
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    tx: mpsc::Sender<Command>,
    local: PeerId,
    /// Commands dropped by `try_*` calls (shown in `Pressure`).
    dropped: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    /// Upload and download limits on shard bytes (none: unlimited).
    bandwidth: Option<Arc<crate::live::Bandwidth>>,
    connected: Connected,
}

impl Client {
    /// This client (and its clones) keeps within `b`'s upload and download
    /// limits: stores it sends and fetches it answers count as upload, the
    /// shards it fetches as download.
    pub fn with_bandwidth(mut self, b: Arc<crate::live::Bandwidth>) -> Client {
        self.bandwidth = Some(b);
        self
    }

    pub(super) fn new(
        tx: mpsc::Sender<Command>,
        local: PeerId,
        dropped: Arc<AtomicU64>,
        in_flight: Arc<AtomicU64>,
        connected: Connected,
    ) -> Self {
        Client {
            tx,
            local,
            dropped,
            in_flight,
            bandwidth: None,
            connected,
        }
    }

    /// Whether this node has a connection to `peer` now (a request to it
    /// opens none).
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected.contains(peer)
    }

    /// Response bytes waiting for their requesters to read them.
    pub fn responses_in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Waits until the upload limit allows sending `response` (a shard
    /// answering a fetch counts). Called by the answering task while it
    /// still holds its answer slot, so that answers waiting on the limit
    /// stay bounded in number and memory.
    pub async fn pace_upload(&self, response: &Response) {
        if let (Some(b), Response::Shard(bytes)) = (&self.bandwidth, response) {
            b.upload.take(bytes.len() as u64).await;
        }
    }

    /// Sends `request` to `peer` and waits for its response.
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, TransferError> {
        if let (Some(b), Some(bytes)) = (&self.bandwidth, request.shard_bytes()) {
            b.upload.take(bytes.len() as u64).await;
        }
        // A request that is cheap to keep is sent once more when the
        // connection closed under it (an idle sweep on the other side can
        // race its first bytes, see `event_loop::idle`). A store is not kept:
        // its copy goes to the next peer in line instead.
        let again = request.shard_bytes().is_none().then(|| request.clone());
        let mut answer = self.request_now(peer, request).await;
        if let (Err(TransferError::Closed { .. }), Some(request)) = (&answer, again) {
            answer = self.request_now(peer, request).await;
        }
        if let (Some(b), Ok(Response::Shard(bytes))) = (&self.bandwidth, &answer) {
            // Booked after the fact: it holds up the next fetch.
            b.download.take(bytes.len() as u64).await;
        }
        answer
    }

    async fn request_now(&self, peer: PeerId, request: Request) -> Result<Response, TransferError> {
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
    pub async fn respond(&self, channel: Reply, response: Response) {
        let _ = self.tx.send(Command::Respond { channel, response }).await;
    }

    pub async fn publish(&self, topic: &'static str, data: Vec<u8>) {
        let _ = self
            .tx
            .send(Command::Publish {
                topic,
                data,
                sent: None,
            })
            .await;
    }

    /// Publishes and says whether gossipsub sent it to any peer (false for
    /// a node with no subscribed peer yet, or a stopped event loop).
    pub async fn publish_checked(&self, topic: &'static str, data: Vec<u8>) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cmd = Command::Publish {
            topic,
            data,
            sent: Some(tx),
        };
        self.tx.send(cmd).await.is_ok() && rx.await.unwrap_or(false)
    }

    pub async fn add_address(&self, peer: PeerId, addr: Multiaddr) {
        let _ = self.tx.send(Command::AddAddress { peer, addr }).await;
    }

    /// Queues `addr` for `peer` if the queue has room; never waits (gossip
    /// handling must not stall on a busy event loop). False when dropped.
    pub fn try_add_address(&self, peer: PeerId, addr: Multiaddr) -> bool {
        let ok = self.tx.try_send(Command::AddAddress { peer, addr }).is_ok();
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Closes this node's connections to `peer`, which it judged down:
    /// a connection across a cut link stays open with nothing getting
    /// through (libp2p's ping reports failures, it closes nothing), and
    /// after the link heals TCP resends only at its next backed-off retry,
    /// up to a minute or two later. Closed, the next probe dials afresh.
    /// Never waits (a hint: when the queue is full the connection is left
    /// to time out as before); false when dropped.
    pub fn try_disconnect(&self, peer: PeerId) -> bool {
        let ok = self.tx.try_send(Command::Disconnect { peer }).is_ok();
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// The first address this node listens on, once it has one (polled
    /// every 20 ms); None when the event loop stopped or an address does
    /// not parse.
    pub async fn first_listen_addr(&self) -> Option<Multiaddr> {
        loop {
            if let Some(a) = self.status().await?.listen.first() {
                return a.parse().ok();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn status(&self) -> Option<NetStatus> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Status { reply }).await.ok()?;
        rx.await.ok()
    }
}
