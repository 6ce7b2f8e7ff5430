//! Quarantined copies in a scan: purge, bring back, or wait, decided by
//! `protocol::purge::decide` over the copies proven elsewhere.

use super::local::Local;
use super::{now_unix, Plan, Repair};
use crate::distribute::Net;
use libp2p::PeerId;
use shardnet_protocol::purge::{self, ProvenCopy};
use shardnet_protocol::ShardId;
use shardnet_store::Store;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::{info, warn};

/// A quarantined copy: purge it, bring it back, or wait
/// (`protocol::purge::decide` over the copies proven elsewhere).
#[allow(clippy::too_many_arguments)]
pub(super) async fn quarantined(
    net: &Net,
    store: &Arc<Store>,
    repair: &Repair,
    apply: bool,
    plan: &mut Plan,
    l: &Local,
    quarantined_at: u64,
    ranked: &[PeerId],
    responsible: &[PeerId],
    confirmed: &(dyn Fn(&PeerId, &ShardId) -> bool + Sync),
    proven_now: &(dyn Fn(&PeerId, &ShardId) -> bool + Sync),
) {
    let local = net.client.local_peer_id();
    let audits = &net.audits;
    let copies: Vec<(PeerId, ProvenCopy)> = ranked
        .iter()
        .filter(|p| **p != local)
        .map(|p| {
            let state = audits.proof_state(p, &l.id);
            (
                *p,
                ProvenCopy {
                    responsible: responsible.contains(p),
                    vetted: audits.trusted(p),
                    isolated: net.view.is_isolated(p),
                    fresh: confirmed(p, &l.id),
                    proven_now: proven_now(p, &l.id),
                    passing_since: state.and_then(|s| s.passing_since),
                },
            )
        })
        .collect();
    let list: Vec<ProvenCopy> = copies.iter().map(|(_, c)| *c).collect();
    let grace = repair.cfg().quarantine_grace.as_secs();
    match purge::decide(&list, l.wanted, quarantined_at, now_unix(), grace) {
        purge::Outcome::Keep => plan.quarantine_waiting += 1,
        purge::Outcome::Purge => {
            plan.purged.push(l.id);
            if !apply {
                return;
            }
            let proofs: Vec<String> = copies
                .iter()
                .filter(|(_, c)| c.responsible && c.vetted && c.proven_now)
                .map(|(p, c)| {
                    format!(
                        "{p} (passing since {})",
                        c.passing_since.unwrap_or_default()
                    )
                })
                .collect();
            match store.purge(&l.id, &proofs.join(", ")) {
                Ok(Some(meta)) => {
                    let owners: Vec<_> = meta.leases.iter().map(|x| x.owner).collect();
                    net.usage.sub(l.size, &owners);
                    repair.purged.fetch_add(1, Ordering::Relaxed);
                    info!(shard = %l.id, "purged quarantined copy: {} copies proven over the grace period", proofs.len());
                }
                Ok(None) => {}
                Err(e) => warn!(shard = %l.id, "cannot purge: {e}"),
            }
        }
        purge::Outcome::Restore if kept_apart(net, store, &l.id) => {
            plan.quarantine_waiting += 1;
        }
        purge::Outcome::Restore => {
            plan.restored.push(l.id);
            if !apply {
                return;
            }
            let proven = list.iter().filter(|c| c.fresh && !c.isolated).count();
            let why = format!(
                "only {proven} of {} wanted copies proven elsewhere",
                l.wanted
            );
            match store.unquarantine(&l.id, &why) {
                Ok(Some(state)) => {
                    warn!(shard = %l.id, %state, "quarantined copy back in service: {why}")
                }
                Ok(None) => {}
                Err(e) => warn!(shard = %l.id, "cannot restore quarantined copy: {e}"),
            }
        }
    }
}

/// A piece quarantined because a sibling of its stripe is held here
/// (`storage::sibling_here`: two holders handed this node siblings at
/// once) stays out of service while the sibling is here, even with no copy
/// proven elsewhere that this node sees: its sender kept its own, and two
/// pieces of a stripe in service on one node would be lost together.
fn kept_apart(net: &Net, store: &Store, id: &ShardId) -> bool {
    let key = shardnet_protocol::placement::peer_key(&net.client.local_peer_id().to_bytes());
    store
        .meta(id)
        .ok()
        .flatten()
        .and_then(|m| m.stripe)
        .is_some_and(|r| crate::storage::sibling_here(store, &key, id, &r).is_some())
}
