//! A misbehaving peer against a real node process: a shard whose bytes do not
//! match its id, a message beyond the size limit, stores beyond the owner's
//! quota and leases the owner did not sign (or signed beyond the bounds) are
//! each refused with a logged reason; nothing is stored and the node keeps
//! running.

mod common;

use common::{random_bytes, Env, NodeProc};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol};
use shardnet_node::swarm::{self, SwarmConfig};
use shardnet_protocol::envelope::{seal, NonceMode};
use shardnet_protocol::wire::{Reject, Request, Response, SHARD_PROTOCOL};
use shardnet_protocol::{Cipher, Lease, MasterKey, ShardId, ShardKey, Terms, Tier};
use std::time::{Duration, Instant};

fn node_peer(env: &Env, n: &NodeProc) -> (PeerId, Multiaddr) {
    let s = n.status(env).unwrap();
    (
        s["peer_id"].as_str().unwrap().parse().unwrap(),
        s["listen"][0].as_str().unwrap().parse().unwrap(),
    )
}

/// Sends one Store request and returns the answer.
async fn store(
    client: &swarm::Client,
    peer: PeerId,
    id: ShardId,
    lease: Lease,
    bytes: Vec<u8>,
) -> Response {
    let req = Request::Store {
        id,
        leases: vec![lease],
        bytes,
        avoid: None,
    };
    client.request(peer, req).await.unwrap()
}

fn shard_count(env: &Env, n: &NodeProc) -> usize {
    n.run(env, &["shards", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .len()
}

/// A codec that claims a 64 MiB frame and sends 1 KiB: what a hostile or
/// broken peer might do.
#[derive(Clone, Default)]
struct Oversized;

impl request_response::Codec for Oversized {
    type Protocol = StreamProtocol;
    type Request = ();
    type Response = ();
    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> std::io::Result<()> {
        Ok(())
    }
    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
    ) -> std::io::Result<()> {
        Ok(())
    }
    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        _: (),
    ) -> std::io::Result<()> {
        io.write_all(&(64u32 << 20).to_be_bytes()).await?;
        io.write_all(&[0u8; 1024]).await?;
        io.close().await
    }
    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: (),
    ) -> std::io::Result<()> {
        Ok(())
    }
}

async fn send_oversized(peer: PeerId, addr: Multiaddr) {
    let mut sw = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                Oversized,
                [(
                    StreamProtocol::new(SHARD_PROTOCOL),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .build();
    sw.add_peer_address(peer, addr);
    sw.behaviour_mut().send_request(&peer, ());
    let done = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let ev = sw.select_next_some().await;
            if let libp2p::swarm::SwarmEvent::Behaviour(
                request_response::Event::OutboundFailure { .. }
                | request_response::Event::Message { .. },
            ) = ev
            {
                break;
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the oversized request neither failed nor got an answer"
    );
    // Keep the connection up while the node reads (and refuses) the frame.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            sw.select_next_some().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_oversized_and_greedy_peers_are_refused() {
    let env = Env::new();
    let node = NodeProc::start(&env, "victim", "z", None, &["--quota-per-owner", "1MiB"]);
    let (peer, addr) = node_peer(&env, &node);

    // Our own well-behaved peer, speaking the real protocol.
    let keypair = libp2p::identity::Keypair::generate_ed25519();
    let (client, event_loop, _events) = swarm::new(SwarmConfig {
        keypair,
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![],
        known: vec![],
        psk: None,
        metrics: None,
        max_memory: shardnet_node::config::DEFAULT_MAX_MEMORY,
    })
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let loop_task = tokio::spawn(event_loop.run(async {
        let _ = stop_rx.await;
    }));
    client.add_address(peer, addr.clone()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let owner = |n: u8| MasterKey::from_bytes([n; 32]);
    let terms = Terms::for_tier(&owner(7), Tier::Bronze, now);
    let sealed = |seed: u64| {
        seal(
            &random_bytes(seed, 600 << 10),
            &ShardKey([seed as u8; 32]),
            Cipher::Aes256Gcm,
            NonceMode::Convergent,
        )
        .unwrap()
    };

    // 1. Bytes that do not match the id.
    let a = sealed(1);
    let b = sealed(2);
    let r = store(
        &client,
        peer,
        a.id(),
        terms.lease(&a.id()),
        b.bytes().to_vec(),
    )
    .await;
    assert_eq!(r, Response::Rejected(Reject::IdMismatch));
    assert_eq!(shard_count(&env, &node), 0);

    // 2. A frame beyond the size limit.
    send_oversized(peer, addr.clone()).await;
    assert_eq!(shard_count(&env, &node), 0);

    // 3. Quota: 1 MiB per owner; the first 600 KiB shard fits, the second not.
    let r = store(
        &client,
        peer,
        a.id(),
        terms.lease(&a.id()),
        a.bytes().to_vec(),
    )
    .await;
    assert_eq!(r, Response::Stored);
    let r = store(
        &client,
        peer,
        b.id(),
        terms.lease(&b.id()),
        b.bytes().to_vec(),
    )
    .await;
    assert_eq!(r, Response::Rejected(Reject::OverQuota));
    let c = sealed(3);

    // 4. Leases the owner did not sign are refused, and nothing is stored:
    //    a's lease replayed on another shard; the owner's signature under a
    //    fresh owner id (a fresh quota) or a victim's; a copy count or an
    //    expiry changed after signing; and, signed by the owner itself, more
    //    copies than any tier and a lease that never ends.
    let good = terms.lease(&a.id());
    let bad_leases = [
        (good, "replayed"),
        (
            Lease {
                owner: owner(8).owner_id(),
                ..terms.lease(&c.id())
            },
            "fresh owner id",
        ),
        (
            Lease {
                copies: 7,
                ..terms.lease(&c.id())
            },
            "copies raised",
        ),
        (
            Lease {
                expires_at: u64::MAX,
                ..terms.lease(&c.id())
            },
            "expiry raised",
        ),
        (
            Terms::new(&owner(9), now + 100, 255).lease(&c.id()),
            "255 copies",
        ),
        (Terms::new(&owner(9), u64::MAX, 3).lease(&c.id()), "forever"),
    ];
    for (l, what) in bad_leases {
        let r = store(&client, peer, c.id(), l, c.bytes().to_vec()).await;
        assert!(
            matches!(r, Response::Rejected(Reject::BadLease(_))),
            "{what}: {r:?}"
        );
    }
    // A renew cannot raise the copies of a held shard either.
    let r = client
        .request(
            peer,
            Request::Renew {
                id: a.id(),
                lease: Lease { copies: 7, ..good },
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(r, Response::Rejected(Reject::BadLease(_))),
        "{r:?}"
    );
    assert_eq!(shard_count(&env, &node), 1);

    // Another owner, signing its own lease, has its own quota.
    let other = Terms::for_tier(&owner(8), Tier::Bronze, now);
    let r = store(
        &client,
        peer,
        b.id(),
        other.lease(&b.id()),
        b.bytes().to_vec(),
    )
    .await;
    assert_eq!(r, Response::Stored, "another owner has its own quota");
    assert_eq!(shard_count(&env, &node), 2);
    let rows = node.run(&env, &["shards", "list", "--json"]).ok().json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a.id().to_string())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        row["leases"][0]["copies"], 2,
        "bronze's copies, not 7: {row}"
    );

    // A fetch returns exactly the stored bytes.
    let r = client
        .request(peer, Request::Fetch { id: a.id() })
        .await
        .unwrap();
    assert_eq!(r, Response::Shard(a.bytes().to_vec()));

    // A flood of validly self-signed catalogue records for fresh owner keys:
    // a burst of 10 from one peer is stored, then one every 6 s (a bucket of
    // 10 a minute); the rest are answered Busy.
    let flood = Instant::now();
    let mut stored = 0;
    for i in 0..40u8 {
        let m = MasterKey::from_bytes([100u8.wrapping_add(i); 32]);
        let rec =
            shardnet_protocol::catalogue::SignedCatalogue::create(&m, &[], 1, [i; 12]).unwrap();
        match client
            .request(peer, Request::PutCatalogue(rec))
            .await
            .unwrap()
        {
            Response::CatalogueStored => stored += 1,
            Response::Rejected(Reject::Busy) => {}
            other => panic!("catalogue {i}: {other:?}"),
        }
    }
    let refilled = (flood.elapsed().as_secs() / 6) as usize;
    assert!(
        (10..=10 + refilled).contains(&stored),
        "{stored} catalogue records stored from one peer in {:?}",
        flood.elapsed()
    );

    // A flood of renewals (each a metadata write and an audit line): a
    // burst of 6,000 per peer is applied, then 100 a second; the rest are
    // answered Busy. The one refused above counted too.
    let flood = Instant::now();
    let (mut renewed, mut busy) = (0, 0);
    let rounds = 140;
    for _ in 0..rounds {
        let answers = futures::future::join_all((0..50).map(|_| {
            client.request(
                peer,
                Request::Renew {
                    id: a.id(),
                    lease: good,
                },
            )
        }))
        .await;
        for r in answers {
            match r.unwrap() {
                Response::Renewed => renewed += 1,
                Response::Rejected(Reject::Busy) => busy += 1,
                other => panic!("renew: {other:?}"),
            }
        }
    }
    eprintln!("renew flood: {renewed} renewed, {busy} busy");
    let refilled = (flood.elapsed().as_millis() / 10) as usize + 1;
    eprintln!("renew flood took {:?}", flood.elapsed());
    assert!(renewed <= 5_999 + refilled, "{renewed} renewed");
    assert!(renewed >= 5_999, "{renewed} renewed");
    assert_eq!(renewed + busy, rounds * 50);
    assert!(
        busy + 5_999 + refilled >= rounds * 50 && refilled < 1_000,
        "{busy} busy"
    );

    // Every refusal was logged with its reason, and the node is still up.
    let mut node = node;
    assert!(node.alive());
    assert!(node.status(&env).is_some());
    let log = node.log_text();
    assert!(log.contains("bytes do not match the id"), "{log}");
    assert!(log.contains("exceeds the"), "{log}");
    assert!(log.contains("owner over quota"), "{log}");
    assert!(
        log.contains("refused a lease: the owner's signature does not verify"),
        "{log}"
    );
    assert!(
        log.contains("refused a lease: asks for 255 copies"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    let _ = stop_tx.send(());
    let _ = loop_task.await;
}
