//! What this node can tell of one local copy: from its own store, and from
//! the running node's proofs of the copies elsewhere ([`Peers`]).

use shardnet_protocol::prune::{self, Class, LocalCopy, Verdict};
use shardnet_protocol::{lease, retention, ShardId, Tier};
use shardnet_store::{ShardMeta, ShardState, Store};

/// Healthy copies of each (shard, size) proven just now on other peers.
pub type ProvenElsewhere<'a> = Box<dyn Fn(&[(ShardId, u64)]) -> Vec<usize> + 'a>;
/// Whether this node is in the responsible set of (shard, size, copies).
pub type Responsible<'a> = Box<dyn Fn(&ShardId, u64, usize) -> bool + 'a>;

/// What the running node proves of the copies beyond its own.
pub struct Peers<'a> {
    pub proven_elsewhere: ProvenElsewhere<'a>,
    pub responsible: Responsible<'a>,
}

/// Peers as the running node sees them: sampled proofs of every live
/// peer's claimed copy (`distribute::proven_copies`), less this node's own.
pub fn peers<'a>(net: &'a crate::distribute::Net, store: &'a Store) -> Peers<'a> {
    let candidates = net.view.candidates();
    let local = net.client.local_peer_id();
    Peers {
        proven_elsewhere: Box::new(move |ids| {
            crate::distribute::proven_copies(net, store, ids)
                .into_iter()
                .zip(ids)
                .map(|(r, (id, _))| {
                    let mine =
                        matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy);
                    r.unwrap_or(0).saturating_sub(usize::from(mine))
                })
                .collect()
        }),
        // One snapshot of the view for the whole plan, run or purge.
        responsible: Box::new(move |id, size, copies| {
            shardnet_protocol::placement::responsible_set(id, size, &candidates, copies)
                .contains(&local)
        }),
    }
}

/// Whether `class` rests on proofs from peers.
pub(super) fn needs_peers(class: Class) -> bool {
    matches!(class, Class::Corrupted | Class::Redundant)
}

/// (responsible, copies proven elsewhere) per shard, for the copies of
/// `metas` that `peers` must decide.
pub(super) fn ask_peers(
    peers: &Peers<'_>,
    metas: &[(ShardId, ShardMeta)],
    now: u64,
) -> std::collections::HashMap<ShardId, (bool, usize)> {
    let ids: Vec<(ShardId, u64)> = metas.iter().map(|(id, m)| (*id, m.size as u64)).collect();
    let proven = (peers.proven_elsewhere)(&ids);
    metas
        .iter()
        .zip(proven)
        .map(|((id, m), p)| {
            let wanted = lease::copies_wanted(&m.leases, now);
            (*id, ((peers.responsible)(id, m.size as u64, wanted), p))
        })
        .collect()
}

/// What this node can tell of its copy: from its own store, and from
/// `seen` (its place in the responsible set, copies proven elsewhere) when
/// the running node checked. Without it: never redundant, never removable
/// as corrupted. `corrupted` marks a copy quarantined while corrupted.
pub(super) fn local_copy(
    m: &ShardMeta,
    now: u64,
    seen: Option<(bool, usize)>,
    corrupted: bool,
) -> LocalCopy {
    let (responsible, proven_elsewhere) = seen.unwrap_or((true, 0));
    LocalCopy {
        lease: retention::lease_state(&m.leases, now, retention::GRACE_SECS),
        corrupted: corrupted || m.state == ShardState::Corrupted,
        responsible,
        proven_elsewhere,
        wanted: lease::copies_wanted(&m.leases, now),
    }
}

pub(super) fn verdict_with(
    m: &ShardMeta,
    now: u64,
    seen: Option<(bool, usize)>,
    corrupted: bool,
) -> (Verdict, String) {
    let c = local_copy(m, now, seen, corrupted);
    let v = prune::classify(&c, prune::MIN_COPIES);
    (v, prune::reason(&c, v, prune::MIN_COPIES))
}

pub(super) fn verdict(m: &ShardMeta, now: u64) -> (Verdict, String) {
    verdict_with(m, now, None, false)
}

/// The tier whose copy count `copies` is.
pub(crate) fn tier_of(copies: usize) -> Option<Tier> {
    Tier::ALL
        .into_iter()
        .find(|t| t.copies() as usize == copies)
}
