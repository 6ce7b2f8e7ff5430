//! A lying peer for end-to-end tests: a real libp2p peer, built from the
//! node's own swarm code, that joins a swarm of real node processes under a
//! zone of its own, announces room for everything, says it holds the shards
//! it is asked about (every one, or those it was sent) and acknowledges every
//! store. What it does with proofs
//! depends on its [`Lie`]. The forgetful liar also serves wrong bytes for
//! what it no longer holds, and pushes every shard it is sent to every peer
//! it has heard of, with a forged `avoid` list naming them all (to push
//! honest holders out of their responsible sets; it lacks the owner's
//! signature, so honest nodes ignore it). It runs on its own tokio runtime
//! in the test process and stops when dropped.

use libp2p::PeerId;
use rand::RngCore;
use shardnet_node::membership::{Announcement, Heartbeat};
use shardnet_node::swarm::{self, Event, SwarmConfig, MEMBERSHIP_TOPIC};
use shardnet_protocol::lease::{Sig, MAX_AVOID};
use shardnet_protocol::placement;
use shardnet_protocol::proof;
use shardnet_protocol::sample as proof_sample;
use shardnet_protocol::wire::{Reject, Request, Response};
use shardnet_protocol::{Avoid, ShardId};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// Keeps what it is sent for `keep` (long enough to prove receipt right
    /// after a store), then drops it; later proofs are garbage. Claims to
    /// hold every shard it is asked about and pushes what it is sent to
    /// everyone (with poisoned `avoid` lists) when `claims_all`; else it is
    /// quiet: it claims only what it was sent and pushes nothing, so nothing
    /// gives it away before it holds (and drops) copies.
    Forgetful { keep: Duration, claims_all: bool },
    /// Keeps nothing and answers every proof `Busy`.
    Evasive,
    /// Announces room for everything and refuses every store as full
    /// (otherwise as evasive): it draws placement and wastes the sender's time.
    Hoarder,
    /// A hoarder that refuses catalogue records as full too: a slot of such
    /// peers keeps no owner's list of backups, and no test data depends on
    /// it (it holds nothing).
    NoCatalogue,
}

pub struct Liar {
    pub peer: PeerId,
    rt: Option<tokio::runtime::Runtime>,
}

impl Liar {
    pub fn start(boot: &str, zone: &str, lie: Lie) -> Liar {
        let keypair = shardnet_node::datadir::grind_identity(super::ID_DIFFICULTY);
        Liar::start_as(boot, zone, lie, keypair)
    }

    /// A liar whose id shares its first `bits` with `target` (and carries
    /// the admission work): a sybil ground to take a slot of the key space.
    pub fn start_near(boot: &str, zone: &str, lie: Lie, target: &[u8; 32], bits: u32) -> Liar {
        let keypair = loop {
            let k = libp2p::identity::Keypair::generate_ed25519();
            let id = k.public().to_peer_id().to_bytes();
            let d = placement::distance(&placement::peer_key(&id), target);
            let shared = u128::from_be_bytes(d[..16].try_into().unwrap()).leading_zeros();
            if shared >= bits && shardnet_protocol::admission::admitted(&id, super::ID_DIFFICULTY) {
                break k;
            }
        };
        Liar::start_as(boot, zone, lie, keypair)
    }

    fn start_as(boot: &str, zone: &str, lie: Lie, keypair: libp2p::identity::Keypair) -> Liar {
        let refuses_catalogue = lie == Lie::NoCatalogue;
        let lie = match lie {
            Lie::NoCatalogue => Lie::Hoarder,
            other => other,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let peer = keypair.public().to_peer_id();
        let identity = keypair.clone();
        let (client, event_loop, mut events) = {
            let _in_rt = rt.enter();
            swarm::new(SwarmConfig {
                keypair,
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
                bootstrap: vec![boot.parse().unwrap()],
                known: vec![],
                psk: None,
                metrics: None,
                max_memory: shardnet_node::config::DEFAULT_MAX_MEMORY,
            })
            .unwrap()
        };
        rt.spawn(event_loop.run(std::future::pending()));
        let (c, gossip_zone, gossip_id) = (client.clone(), zone.to_string(), identity.clone());
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(300));
            loop {
                tick.tick().await;
                let hb = heartbeat(&c, &gossip_id, &gossip_zone).await;
                c.publish(MEMBERSHIP_TOPIC, Announcement::Heartbeat(hb).encode())
                    .await;
            }
        });
        let zone = zone.to_string();
        rt.spawn(async move {
            let mut held: HashMap<ShardId, (Vec<u8>, Instant)> = HashMap::new();
            let mut known: HashSet<PeerId> = HashSet::new();
            let mut sent: HashSet<ShardId> = HashSet::new();
            while let Some(ev) = events.recv().await {
                let (from, request, channel) = match ev {
                    Event::InboundRequest {
                        peer,
                        request,
                        channel,
                    } => (peer, request, channel),
                    // Peers learnt from gossip and from every connection
                    // (heartbeats travel only on change, and Kademlia's
                    // lookups are paced, so neither alone names many).
                    Event::Gossip { source: peer, .. } | Event::Connected { peer, .. } => {
                        if known.len() < 64 {
                            known.insert(peer);
                        }
                        continue;
                    }
                    _ => continue,
                };
                // And from whoever asks it something.
                if known.len() < 64 {
                    known.insert(from);
                }
                if let Lie::Forgetful { keep, .. } = lie {
                    held.retain(|_, (_, at)| at.elapsed() < keep);
                }
                // A store that asks for a proof of receipt in its answer:
                // the forgetful liar gives one (it has the bytes for now),
                // the others answer a plain `Stored` and leave the proof to
                // a separate challenge.
                let nonce = match &request {
                    Request::StoreProve { nonce, .. } => Some(*nonce),
                    _ => None,
                };
                let request = request.for_version(1);
                if matches!(lie, Lie::Hoarder) && matches!(request, Request::Store { .. }) {
                    client
                        .respond(channel, Response::Rejected(Reject::Full))
                        .await;
                    continue;
                }
                let answer = match request {
                    Request::Store {
                        id, bytes, leases, ..
                    } => {
                        sent.insert(id);
                        if matches!(
                            lie,
                            Lie::Forgetful {
                                claims_all: true,
                                ..
                            }
                        ) {
                            // An avoid list naming every honest peer, under
                            // the owner's name but not its signature: honest
                            // nodes must ignore it.
                            let avoid = leases.first().map(|l| Avoid {
                                owner: l.owner,
                                keys: known
                                    .iter()
                                    .take(MAX_AVOID)
                                    .map(|p| placement::peer_key(&p.to_bytes()))
                                    .collect(),
                                sig: Sig([7; 64]),
                            });
                            for p in known.iter().filter(|p| **p != from) {
                                let (c, p) = (client.clone(), *p);
                                let req = Request::Store {
                                    id,
                                    leases: leases.clone(),
                                    bytes: bytes.clone(),
                                    avoid: avoid.clone(),
                                };
                                tokio::spawn(async move {
                                    let _ = c.request(p, req).await;
                                });
                            }
                        }
                        let answer = match (nonce, lie) {
                            (Some(n), Lie::Forgetful { .. }) => {
                                Response::StoredProof(proof::answer(&n, &id, &bytes))
                            }
                            _ => Response::Stored,
                        };
                        if matches!(lie, Lie::Forgetful { .. }) {
                            held.insert(id, (bytes, Instant::now()));
                        }
                        answer
                    }
                    Request::Renew { .. } | Request::Stripe { .. } => Response::Renewed,
                    Request::Release { .. } => Response::Released(true),
                    Request::Has { ids } => Response::Has(match lie {
                        Lie::Forgetful {
                            claims_all: false, ..
                        } => ids.iter().map(|id| sent.contains(id)).collect(),
                        _ => vec![true; ids.len()],
                    }),
                    Request::Fetch { id } => match (held.get(&id), lie) {
                        (Some((b, _)), _) => Response::Shard(b.clone()),
                        // Bytes that do not hash to the id.
                        (None, Lie::Forgetful { .. }) => Response::Shard(vec![7; 4096]),
                        (None, Lie::Evasive | Lie::Hoarder | Lie::NoCatalogue) => {
                            Response::NotFound
                        }
                    },
                    Request::Prove { nonce, ids } => match lie {
                        Lie::Evasive | Lie::Hoarder | Lie::NoCatalogue => {
                            Response::Rejected(Reject::Busy)
                        }
                        Lie::Forgetful { .. } => Response::Proofs(
                            ids.iter()
                                .map(|id| {
                                    Some(match held.get(id) {
                                        Some((b, _)) => proof::answer(&nonce, id, b),
                                        None => {
                                            let mut junk = [0u8; 32];
                                            rand::thread_rng().fill_bytes(&mut junk);
                                            junk
                                        }
                                    })
                                })
                                .collect(),
                        ),
                    },
                    Request::Sample { id, offsets } => match (held.get(&id), lie) {
                        (Some((b, _)), _) => Response::Samples(
                            proof_sample::extract(b, &offsets)
                                .into_iter()
                                .map(serde_bytes::ByteBuf::from)
                                .collect(),
                        ),
                        (None, Lie::Forgetful { .. }) => Response::Samples(
                            offsets
                                .iter()
                                .map(|_| serde_bytes::ByteBuf::from(vec![7u8; 2048]))
                                .collect(),
                        ),
                        (None, Lie::Evasive | Lie::Hoarder | Lie::NoCatalogue) => {
                            Response::Rejected(Reject::Busy)
                        }
                    },
                    Request::PutCatalogue(_) if refuses_catalogue => {
                        Response::Rejected(Reject::Full)
                    }
                    Request::PutCatalogue(_) => Response::CatalogueStored,
                    Request::GetCatalogue { .. } => Response::Catalogue(None),
                    // Liars answer probes like anyone: they look live.
                    Request::Hello => Response::Hello(heartbeat(&client, &identity, &zone).await),
                    Request::Members => Response::Members(vec![]),
                    // Claims newer records of members that do not exist, and
                    // then sends none: the asker pulls at most
                    // `digest::MAX_WANTED` a round and takes nothing.
                    Request::Digest { .. } => Response::Summaries(
                        (0..shardnet_protocol::digest::MAX_SUMMARIES as u64)
                            .map(|prefix| shardnet_protocol::digest::Summary {
                                prefix,
                                issued_at: u64::MAX,
                            })
                            .collect(),
                    ),
                    Request::Records { .. } => Response::Members(vec![]),
                    // Turned into a `Store` above.
                    Request::StoreProve { .. } => Response::Stored,
                };
                client.respond(channel, answer).await;
            }
        });
        Liar { peer, rt: Some(rt) }
    }
}

/// The heartbeat a liar announces, signed: a huge capacity, so placement
/// wants it.
async fn heartbeat(
    c: &swarm::Client,
    key: &libp2p::identity::Keypair,
    zone: &str,
) -> shardnet_node::membership::SignedHeartbeat {
    let hb = Heartbeat {
        zone: zone.to_string(),
        capacity: 1 << 40,
        used: 0,
        version: env!("CARGO_PKG_VERSION").into(),
        addrs: c.status().await.map(|s| s.listen).unwrap_or_default(),
        draining: false,
        radius: None,
    };
    shardnet_node::membership::SignedHeartbeat::sign(key, hb, shardnet_node::output::now_unix())
}

impl Drop for Liar {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
