//! The event loop's connection commands against a real peer on 127.0.0.1.

use super::*;
use shardnet_protocol::wire::{Request, Response};
use std::time::{Duration, Instant};

fn config(listen: bool) -> SwarmConfig {
    SwarmConfig {
        keypair: libp2p::identity::Keypair::generate_ed25519(),
        listen: if listen {
            vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()]
        } else {
            vec![]
        },
        bootstrap: vec![],
        known: vec![],
        psk: None,
        metrics: None,
        max_memory: crate::config::DEFAULT_MAX_MEMORY,
    }
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{what}: not within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A peer judged down has its connection closed (`Client::try_disconnect`),
/// and the next request to it dials a new one.
#[tokio::test]
async fn a_disconnected_peer_is_dialled_afresh_by_the_next_request() {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let (b, b_loop, mut b_events) = new(config(true)).unwrap();
    tokio::spawn(b_loop.run(stopped(stop_rx.clone())));
    let responder = b.clone();
    tokio::spawn(async move {
        while let Some(ev) = b_events.recv().await {
            if let Event::InboundRequest { channel, .. } = ev {
                responder.respond(channel, Response::Stored).await;
            }
        }
    });
    let b_addr = b.first_listen_addr().await.unwrap();
    let (a, a_loop, _a_events) = new(config(false)).unwrap();
    tokio::spawn(a_loop.run(stopped(stop_rx)));
    let b_peer = b.local_peer_id();
    a.add_address(b_peer, b_addr).await;

    assert!(matches!(
        a.request(b_peer, Request::Hello).await,
        Ok(Response::Stored)
    ));
    assert!(a.is_connected(&b_peer));
    assert!(a.try_disconnect(b_peer));
    until("the connection closed", || !a.is_connected(&b_peer)).await;
    assert!(matches!(
        a.request(b_peer, Request::Hello).await,
        Ok(Response::Stored)
    ));
    assert!(a.is_connected(&b_peer), "a new connection");
    // Disconnecting a peer that is not connected is harmless.
    assert!(a.try_disconnect(libp2p::PeerId::random()));
    let _ = stop_tx.send(true);
}
