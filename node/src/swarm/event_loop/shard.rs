//! The request-response side of the [`EventLoop`]: inbound requests passed
//! to the services (or answered `Busy` here), responses matched to their
//! waiting requesters, failures, and the count of response bytes not yet sent.

use super::{Event, EventLoop, Reply};
use libp2p::request_response::{self, InboundRequestId};
use libp2p::PeerId;
use shardnet_protocol::wire::{Reject, Request, Response};
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, warn};

use super::super::client::TransferError;
use super::super::RESPONSE_BUDGET;

impl EventLoop {
    /// Passes an inbound request on, or answers it `Busy` at once.
    pub(super) fn emit_request(&mut self, peer: PeerId, request: Request, channel: Reply) {
        let busy = if self.in_flight.load(Ordering::Relaxed) > RESPONSE_BUDGET {
            self.pressure.requests_over_budget += 1;
            Some(channel)
        } else {
            match self.events.try_send(Event::InboundRequest {
                peer,
                request,
                channel,
            }) {
                Ok(()) => None,
                Err(TrySendError::Full(Event::InboundRequest { channel, .. })) => {
                    self.pressure.requests_busy += 1;
                    Some(channel)
                }
                Err(_) => {
                    debug!("request dropped: services stopped");
                    None
                }
            }
        };
        if let Some(reply) = busy {
            debug!(%peer, "inbound request answered busy");
            let _ = self
                .swarm
                .behaviour_mut()
                .shard
                .send_response(reply.channel, Response::Rejected(Reject::Busy));
        }
    }

    pub(super) fn sent(&mut self, id: InboundRequestId) {
        if let Some(b) = self.sending.remove(&id) {
            self.in_flight.fetch_sub(b, Ordering::Relaxed);
        }
    }

    pub(super) fn shard_event(&mut self, ev: request_response::Event<Request, Response>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request_id,
                    request,
                    channel,
                } => {
                    self.activity.started(peer, Instant::now());
                    let reply = Reply {
                        id: request_id,
                        channel,
                    };
                    self.emit_request(peer, request, reply);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    self.activity.finished(peer, Instant::now());
                    match self.pending.remove(&request_id) {
                        Some(reply) => {
                            let _ = reply.send(Ok(response));
                        }
                        None => debug!(%peer, "late response for a request nobody waits for"),
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.activity.finished(peer, Instant::now());
                if let Some(reply) = self.pending.remove(&request_id) {
                    let e = match error {
                        request_response::OutboundFailure::ConnectionClosed => {
                            TransferError::Closed { peer }
                        }
                        other => TransferError::Failed {
                            peer,
                            reason: other.to_string(),
                        },
                    };
                    let _ = reply.send(Err(e));
                }
            }
            // Malformed requests never get here: libp2p drops a failed
            // `read_request` silently, so the codec logs those itself.
            request_response::Event::InboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                self.sent(request_id);
                self.activity.finished(peer, Instant::now());
                warn!(%peer, "inbound shard request failed: {error}");
            }
            request_response::Event::ResponseSent {
                request_id, peer, ..
            } => {
                self.sent(request_id);
                self.activity.finished(peer, Instant::now());
            }
        }
    }
}
