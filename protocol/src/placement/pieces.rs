//! Placing the pieces of one erasure-coded shard: one piece per peer, and
//! no zone holding more than `parity` of them where the swarm allows it.
//!
//! Each piece is a shard of its own (its id is the hash of its bytes) kept
//! as one copy, so repair moves it as it moves any shard: to the closest
//! eligible peer by its id, skipping the peers its owner-signed avoid list
//! names. Placement therefore picks, for piece `i`, the closest peer by
//! `i`'s id that holds no other piece and whose zone is under the cap, and
//! the avoid list it returns names the other pieces' peers first, then the
//! closer peers skipped for the zone cap: a repairer that recomputes the
//! piece's place over the same view lands on the same peer, never on a
//! sibling's. One peer then never holds two pieces (no peer can read a
//! shard, or take two pieces down with it), and losing a whole zone loses
//! at most `parity` pieces, which any `data` of the rest restore.

use super::{reach, Candidate, Key};
use crate::id::ShardId;

/// Where one piece goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PiecePlace<P> {
    /// The peers to try, best first: the chosen peer, then the rest by
    /// reach, without the other pieces' chosen peers.
    pub order: Vec<P>,
    /// Placement keys of peers repair must keep this piece off: the other
    /// pieces' chosen peers, then those skipped for the zone cap.
    pub avoid: Vec<Key>,
}

/// Eligible peers of `peers` by reach from `id`, closest first.
fn by_reach<P>(id: &ShardId, size: u64, peers: &[Candidate<P>]) -> Vec<usize> {
    let mut v: Vec<(u128, Key, usize)> = (0..peers.len())
        .filter(|&i| peers[i].eligible(size))
        .filter_map(|i| {
            let c = &peers[i];
            let d = c.vkeys.nearest(id);
            c.within(d).then(|| (reach(d, c.weight), c.key, i))
        })
        .collect();
    v.sort_unstable();
    v.into_iter().map(|(_, _, i)| i).collect()
}

/// Places `pieces` (ids in index order, each about `size` bytes) of a
/// stripe with `parity` parity pieces. `None` when fewer eligible peers
/// than pieces: the caller keeps copies instead, since pieces doubled up
/// on one peer would be lost together.
pub fn place_pieces<P: Clone + PartialEq>(
    pieces: &[ShardId],
    size: u64,
    peers: &[Candidate<P>],
    parity: usize,
) -> Option<Vec<PiecePlace<P>>> {
    let orders: Vec<Vec<usize>> = pieces.iter().map(|p| by_reach(p, size, peers)).collect();
    let eligible = orders.first().map_or(0, Vec::len);
    if pieces.is_empty() || eligible < pieces.len() {
        return None;
    }
    // The cap holds when the zones can take every piece under it.
    let mut zones: Vec<(&str, usize)> = Vec::new();
    for &i in &orders[0] {
        match zones.iter_mut().find(|(z, _)| *z == peers[i].zone) {
            Some(z) => z.1 += 1,
            None => zones.push((peers[i].zone.as_str(), 1)),
        }
    }
    let room: usize = zones.iter().map(|(_, n)| (*n).min(parity.max(1))).sum();
    let cap = if room >= pieces.len() {
        parity.max(1)
    } else {
        usize::MAX
    };
    let mut chosen: Vec<usize> = Vec::with_capacity(pieces.len());
    let mut skipped: Vec<Vec<usize>> = Vec::with_capacity(pieces.len());
    let mut in_zone: Vec<(&str, usize)> = Vec::new();
    for order in &orders {
        let mut skip = Vec::new();
        let mut pick = None;
        for &i in order {
            if chosen.contains(&i) {
                continue;
            }
            let z = peers[i].zone.as_str();
            let n = in_zone.iter().find(|(x, _)| *x == z).map_or(0, |(_, n)| *n);
            if n >= cap {
                skip.push(i);
                continue;
            }
            pick = Some(i);
            break;
        }
        // `eligible >= pieces` always leaves an unchosen peer, and the cap
        // is lifted when the zones cannot hold every piece under it.
        let i = pick.or_else(|| order.iter().copied().find(|i| !chosen.contains(i)))?;
        chosen.push(i);
        match in_zone.iter_mut().find(|(z, _)| *z == peers[i].zone) {
            Some(z) => z.1 += 1,
            None => in_zone.push((peers[i].zone.as_str(), 1)),
        }
        skipped.push(skip);
    }
    Some(
        orders
            .iter()
            .enumerate()
            .map(|(n, order)| {
                let mine = chosen[n];
                let others: Vec<usize> = chosen.iter().copied().filter(|&c| c != mine).collect();
                let mut list = vec![peers[mine].peer.clone()];
                list.extend(
                    order
                        .iter()
                        .filter(|i| **i != mine && !others.contains(i))
                        .map(|&i| peers[i].peer.clone()),
                );
                let avoid = others
                    .iter()
                    .chain(&skipped[n])
                    .map(|&i| peers[i].key)
                    .collect();
                PiecePlace { order: list, avoid }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::responsible_set;
    use super::super::tests::peers;
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    fn ids(n: usize, seed: u64) -> Vec<ShardId> {
        (0..n as u64)
            .map(|i| ShardId::of(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
            .collect()
    }

    #[test]
    fn too_few_peers_keep_copies() {
        assert!(place_pieces(&ids(4, 1), 1, &peers(3, 3), 2).is_none());
        assert!(place_pieces(&[], 1, &peers(3, 3), 2).is_none());
        assert!(place_pieces(&ids(4, 1), 1, &peers(4, 1), 2).is_some());
    }

    proptest! {
        #[test]
        fn one_piece_per_peer_zones_capped_and_repair_agrees(
            n in 1usize..30, zones in 1usize..6, data in 1usize..5, parity in 1usize..5, seed in any::<u64>()
        ) {
            let p = peers(n, zones);
            let pieces = ids(data + parity, seed);
            let Some(places) = place_pieces(&pieces, 1, &p, parity) else {
                prop_assert!(n < data + parity);
                return Ok(());
            };
            let first: Vec<u32> = places.iter().map(|pl| pl.order[0]).collect();
            // One piece per peer.
            prop_assert_eq!(first.iter().collect::<HashSet<_>>().len(), first.len());
            // No zone over the cap when the zones have room for it.
            let mut size: HashMap<String, usize> = HashMap::new();
            for c in &p { *size.entry(c.zone.clone()).or_default() += 1; }
            let room: usize = size.values().map(|s| (*s).min(parity)).sum();
            let mut got: HashMap<String, usize> = HashMap::new();
            for f in &first { *got.entry(p[*f as usize].zone.clone()).or_default() += 1; }
            if room >= data + parity {
                prop_assert!(got.values().all(|g| *g <= parity), "{:?}", got);
            }
            // Repair, placing each piece as one copy around its avoid list,
            // finds the same peer (while the list fits the signed bound).
            for (id, pl) in pieces.iter().zip(&places) {
                if pl.avoid.len() > crate::lease::MAX_AVOID { continue; }
                let pool: Vec<Candidate<u32>> = p.iter().filter(|c| !pl.avoid.contains(&c.key)).cloned().collect();
                prop_assert_eq!(responsible_set(id, 1, &pool, 1), vec![pl.order[0]]);
                // The fallbacks never name another piece's peer.
                for (j, other) in first.iter().enumerate() {
                    if other != &pl.order[0] {
                        prop_assert!(!pl.order.contains(other), "piece {j}'s peer in a fallback");
                    }
                }
            }
        }
    }
}
