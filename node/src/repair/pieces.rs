//! Holders rebuild the lost pieces of a stripe while its owner is offline.
//!
//! A piece is a one-copy shard, so the copy repair of `scan` cannot bring it
//! back once its holder is gone: only a rebuild from `k` siblings can, and
//! an owner rebuilds its own stripes only while its node runs
//! (`ops::rebuild`). Each holder keeps its piece's stripe record, signed by
//! the owner (`lease::StripeRecord`: the piece ids and a one-copy lease for
//! each), which is enough to do what the owner would:
//! - prove the siblings where placement keeps them (sampled slices checked
//!   against each id: a peer's word counts for nothing);
//! - decide by `redundancy::rebuild::holder_duty`: the holder of the
//!   lowest-indexed proven piece decides, lazily (below the floor
//!   `k + ceil(m/2)`), and the others defer to it;
//! - gather `k` pieces, checked by id and header, rebuild every missing one
//!   at once, and check each against the record's id before it leaves;
//! - send each to the closest peer by its id that holds no sibling, under
//!   the record's lease and with the record, and count it only on that
//!   peer's proof of receipt.

use crate::distribute::{proven_holders_near, Net, SwarmSource};
use crate::shards::ShardSource;
use libp2p::PeerId;
use serde::Serialize;
use shardnet_protocol::lease::StripeRecord;
use shardnet_protocol::placement;
use shardnet_protocol::redundancy::rebuild::{holder_duty, holder_order, Duty, Rebuild};
use shardnet_protocol::redundancy::stripe::Piece;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{proof, ShardId};
use shardnet_store::{ShardState, Store, StoreError};
use std::collections::{HashMap, HashSet};
use tracing::{info, warn};

/// Stripes one pass looks at; the others wait for a later pass.
pub const STRIPES_PER_PASS: usize = 1024;
/// Stripes one pass rebuilds: repair traffic stays bounded after a large
/// loss, and the next pass goes on.
pub const REBUILDS_PER_PASS: usize = 64;
/// Peers a rebuilt piece is offered to: its place by its id, then these.
const FALLBACKS: usize = 4;

/// What one pass over the pieces this node holds found and did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct HolderReport {
    /// Stripes this node holds a piece of, with a live record.
    pub stripes: u64,
    /// Sibling pieces asked about (each of its stripe's `k+m+2` closest
    /// peers), over the pass's rounds: about one per stripe for a holder
    /// that defers, `k+m-1` for the one that decides.
    pub asked: u64,
    /// A lower-indexed piece is proven: its holder decides.
    pub deferred: u64,
    pub whole: u64,
    /// Pieces missing, at or above the floor: left for later.
    pub waiting: u64,
    /// Fewer than `k` pieces proven.
    pub lost: u64,
    pub rebuilt_pieces: u64,
    pub bytes_sent: u64,
    pub failures: Vec<String>,
}

/// A stripe this node holds a piece of.
struct Held {
    mine: usize,
    size: u64,
    record: Box<StripeRecord>,
}

/// Shards' metadata one pass reads, at most.
const METAS_PER_PASS: usize = 64 * 1024;
const META_PAGE: usize = 1024;

/// The stripes with a live record among the healthy pieces held here, one
/// entry per stripe (the lowest index held), from the shard after `cursor`
/// on, about [`STRIPES_PER_PASS`] of them; `cursor` moves past them (back
/// to the start at the end), so that passes take turns over a large store.
fn held(store: &Store, now: u64, cursor: &mut Option<ShardId>) -> Result<Vec<Held>, StoreError> {
    let mut by_shard: HashMap<ShardId, Held> = HashMap::new();
    let mut read = 0;
    while by_shard.len() < STRIPES_PER_PASS && read < METAS_PER_PASS {
        let page = store.meta_page(cursor.as_ref(), META_PAGE)?;
        if page.is_empty() {
            *cursor = None;
            break;
        }
        read += page.len();
        for (id, m) in page {
            *cursor = Some(id);
            if m.state != ShardState::Healthy {
                continue;
            }
            let Some(record) = m.stripe.filter(|r| r.expires_at > now) else {
                continue;
            };
            let Some(mine) = record.index_of(&id) else {
                continue;
            };
            let entry = by_shard.entry(record.stripe.shard).or_insert(Held {
                mine,
                size: m.size as u64,
                record,
            });
            entry.mine = entry.mine.min(mine);
        }
    }
    Ok(by_shard.into_values().collect())
}

/// One pass: the stripes this node holds a piece of (the next
/// [`STRIPES_PER_PASS`] after `cursor`) are looked at, and those this node
/// must rebuild are rebuilt (at most [`REBUILDS_PER_PASS`]).
pub fn pass(
    net: &Net,
    store: &Store,
    cursor: &mut Option<ShardId>,
) -> Result<HolderReport, StoreError> {
    let now = crate::output::now_unix();
    let held = held(store, now, cursor)?;
    let mut report = HolderReport {
        stripes: held.len() as u64,
        ..Default::default()
    };
    let (proofs, asked) = prove_siblings(net, store, &held);
    report.asked = asked;
    let mut rebuilds = 0;
    for (h, (proven, holders)) in held.iter().zip(proofs) {
        match holder_duty(h.record.stripe.scheme(), h.mine, &proven) {
            Duty::Defer { .. } => report.deferred += 1,
            Duty::Decide(Rebuild::Whole) => report.whole += 1,
            Duty::Decide(Rebuild::Waiting { .. }) => report.waiting += 1,
            Duty::Decide(Rebuild::Lost { proven }) => {
                warn!(shard = %h.record.stripe.shard, proven, "too few pieces proven to rebuild");
                report.lost += 1;
            }
            Duty::Decide(Rebuild::Now { .. }) if rebuilds >= REBUILDS_PER_PASS => {
                report.waiting += 1
            }
            Duty::Decide(Rebuild::Now { missing }) => {
                rebuilds += 1;
                rebuild(net, store, h, &proven, &missing, &holders, &mut report);
            }
        }
    }
    Ok(report)
}

/// One stripe's pieces proven now, by index, and the peers that proved any.
type Proven = (Vec<bool>, HashSet<PeerId>);

/// Per stripe of `held`: its pieces proven now, by index (its own piece
/// counts as proven), and the peers that proved any. Asked in rounds over
/// every stripe at once: round `r` asks for piece `r` of each stripe held
/// at a higher index whose lower pieces are all unproven so far (one proof
/// is enough to defer to its holder), and a last round asks for every
/// higher piece of the stripes this node decides. So the lowest holder
/// proves every sibling and each other holder about one piece. Also the
/// number of pieces asked about.
fn prove_siblings(net: &Net, store: &Store, held: &[Held]) -> (Vec<Proven>, u64) {
    let mut asked = 0;
    let mut out: Vec<Proven> = held
        .iter()
        .map(|h| {
            let mut proven = vec![false; h.record.stripe.pieces.len()];
            proven[h.mine] = true;
            (proven, HashSet::new())
        })
        .collect();
    let decides = |h: &Held, proven: &[bool]| {
        matches!(
            holder_duty(h.record.stripe.scheme(), h.mine, proven),
            Duty::Decide(_)
        )
    };
    let rounds = held.iter().map(|h| h.mine).max().unwrap_or(0);
    for round in 0..=rounds {
        // (stripe, piece index) asked this round.
        let asks: Vec<(usize, usize)> = held
            .iter()
            .enumerate()
            .filter(|(n, h)| decides(h, &out[*n].0))
            .flat_map(|(n, h)| {
                let pieces = h.record.stripe.pieces.len();
                let which: Vec<usize> = if round < rounds {
                    (round < h.mine).then_some(round).into_iter().collect()
                } else {
                    holder_order(h.mine, pieces)
                        .into_iter()
                        .filter(|i| *i > h.mine)
                        .collect()
                };
                which.into_iter().map(move |i| (n, i))
            })
            .collect();
        if asks.is_empty() {
            continue;
        }
        asked += asks.len() as u64;
        let ids: Vec<(ShardId, u64)> = asks
            .iter()
            .map(|(n, i)| (held[*n].record.stripe.pieces[*i], held[*n].size))
            .collect();
        // A piece may sit past closer peers that hold its siblings.
        let width = asks
            .iter()
            .map(|(n, _)| held[*n].record.stripe.pieces.len() + 2)
            .max()
            .unwrap_or(0);
        let found = proven_holders_near(net, store, &ids, width);
        for ((n, i), r) in asks.into_iter().zip(found) {
            if let Ok(who) = r {
                out[n].0[i] = !who.is_empty();
                out[n].1.extend(who.into_iter().flatten());
            }
        }
    }
    (out, asked)
}

/// Gathers `k` proven pieces of `h`'s stripe, rebuilds the `missing` ones
/// and stores each at its place.
fn rebuild(
    net: &Net,
    store: &Store,
    h: &Held,
    proven: &[bool],
    missing: &[usize],
    holders: &HashSet<PeerId>,
    report: &mut HolderReport,
) {
    let s = &h.record.stripe;
    let usable: Vec<usize> = (0..s.pieces.len()).filter(|i| proven[*i]).collect();
    let src = SwarmSource::new(net, store);
    let pieces =
        match crate::ops::rebuild::rebuild_one(&src as &dyn ShardSource, s, &usable, missing) {
            Ok(p) => p,
            Err(e) => {
                report.failures.push(format!("shard {}: {e}", s.shard));
                return;
            }
        };
    let mut taken = holders.clone();
    taken.insert(net.client.local_peer_id());
    for (i, piece) in pieces {
        let size = piece.bytes().len() as u64;
        match send_rebuilt(net, &h.record, i, piece, &mut taken) {
            Ok(peer) => {
                info!(shard = %s.shard, piece = i, %peer, "piece rebuilt by a holder");
                report.rebuilt_pieces += 1;
                report.bytes_sent += size;
            }
            Err(e) => report
                .failures
                .push(format!("shard {} piece {i}: {e}", s.shard)),
        }
    }
}

/// Stores rebuilt piece `i` on the closest peer by its id not in `taken`
/// (peers holding a sibling, this node, and those given a rebuilt piece),
/// under the record's lease, and gives it the record. The peer that proved
/// receipt.
fn send_rebuilt(
    net: &Net,
    record: &StripeRecord,
    i: usize,
    piece: Piece,
    taken: &mut HashSet<PeerId>,
) -> Result<PeerId, String> {
    let id = piece.id();
    let lease = record.lease(i).ok_or("the record has no lease for it")?;
    let bytes = bytes::Bytes::from(piece.into_bytes());
    let cands = net.view.candidates();
    let order: Vec<PeerId> =
        placement::responsible_set(&id, bytes.len() as u64, &cands, cands.len())
            .into_iter()
            .filter(|p| !taken.contains(p))
            .take(1 + FALLBACKS)
            .collect();
    let mut last = String::from("no peer without a sibling to take it");
    for peer in order {
        let nonce = crate::audit::nonce();
        let req = Request::StoreProve {
            id,
            leases: vec![lease],
            avoid: None,
            nonce,
            bytes: bytes.clone(),
        };
        net.handle
            .block_on(net.live.bandwidth.repair.take(bytes.len() as u64));
        match net.handle.block_on(net.client.request(peer, req)) {
            Ok(Response::StoredProof(a)) if a == proof::answer(&nonce, &id, &bytes) => {
                taken.insert(peer);
                let req = Request::Stripe {
                    id,
                    record: Box::new(record.clone()),
                };
                if !matches!(
                    net.handle.block_on(net.client.request(peer, req)),
                    Ok(Response::Renewed)
                ) {
                    warn!(piece = %id, %peer, "stripe record not kept");
                }
                return Ok(peer);
            }
            Ok(Response::StoredProof(_)) => last = format!("{peer}: a wrong proof of receipt"),
            Ok(other) => last = format!("{peer}: answered {other:?}"),
            Err(e) => last = format!("{peer}: {e}"),
        }
    }
    Err(last)
}
