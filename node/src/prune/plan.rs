//! The prune plan: every local copy that may leave now, by class and tier.

use shardnet_protocol::prune::{Class, Verdict};
use shardnet_protocol::{lease, reclaim, retention, ShardId};
use shardnet_store::{ShardMeta, ShardState, Store, StoreError};

use super::copy::{ask_peers, tier_of, verdict, verdict_with};
use super::{plan_hash, ClassTotal, Peers, PlanEntry, PlanFilter, PrunePlan, TierTotal};

/// Every local copy in `classes` (all when empty) that may leave now and
/// passes `filter`.
pub fn plan(
    store: &Store,
    classes: &[Class],
    filter: &PlanFilter,
    peers: Option<&Peers<'_>>,
    now: u64,
) -> Result<PrunePlan, StoreError> {
    let classes: Vec<Class> = if classes.is_empty() {
        Class::ALL.to_vec()
    } else {
        classes.to_vec()
    };
    let (mut entries, mut lost) = (Vec::new(), Vec::new());
    // Copies only peers' proofs can decide, checked in one batch after.
    let mut deferred: Vec<(ShardId, ShardMeta)> = Vec::new();
    let asks_corrupted = peers.is_some() && classes.contains(&Class::Corrupted);
    let asks_redundant = peers.is_some() && classes.contains(&Class::Redundant);
    store.for_each_meta(|id, m| {
        // Quarantined copies too: one that the quarantine pass held when
        // its leases ran out is prune's now.
        if matches!(
            m.state,
            ShardState::Healthy | ShardState::Corrupted | ShardState::Quarantined
        ) {
            let tier = (!m.leases.is_empty())
                .then(|| tier_of(lease::copies_wanted(&m.leases, now)))
                .flatten();
            let old_enough = filter
                .older_than
                .is_none_or(|age| m.stored_at.saturating_add(age) <= now);
            let in_tier = filter.tier.is_none_or(|t| tier == Some(t));
            let live = retention::lease_state(&m.leases, now, retention::GRACE_SECS)
                == retention::LeaseState::Live;
            let outside = asks_redundant
                && m.state == ShardState::Healthy
                && live
                && peers.is_some_and(|p| {
                    !(p.responsible)(&id, m.size as u64, lease::copies_wanted(&m.leases, now))
                });
            if old_enough
                && in_tier
                && ((asks_corrupted && m.state == ShardState::Corrupted) || outside)
            {
                deferred.push((id, m));
                return true;
            }
            match verdict(&m, now) {
                (Verdict::Prune(class), reason)
                    if classes.contains(&class) && old_enough && in_tier =>
                {
                    entries.push(PlanEntry {
                        shard: id,
                        class,
                        bytes: m.size as u64,
                        reason,
                        tier,
                    })
                }
                (Verdict::Lost, _) => lost.push(id),
                _ => {}
            }
        }
        true
    })?;
    if let Some(p) = peers.filter(|_| !deferred.is_empty()) {
        let seen = ask_peers(p, &deferred, now);
        for (id, m) in &deferred {
            match verdict_with(m, now, seen.get(id).copied(), false) {
                (Verdict::Prune(class), reason) if classes.contains(&class) => {
                    entries.push(PlanEntry {
                        shard: *id,
                        class,
                        bytes: m.size as u64,
                        reason,
                        tier: tier_of(lease::copies_wanted(&m.leases, now)),
                    })
                }
                (Verdict::Lost, _) => lost.push(*id),
                _ => {}
            }
        }
    }
    if let Some(budget) = filter.reclaim {
        let cands: Vec<(Class, u64)> = entries.iter().map(|e| (e.class, e.bytes)).collect();
        let mut picked: Vec<Option<PlanEntry>> = entries.into_iter().map(Some).collect();
        entries = reclaim::pick(&cands, budget)
            .into_iter()
            .filter_map(|i| picked[i].take())
            .collect();
    }
    let mut tiers: Vec<TierTotal> = Vec::new();
    for e in &entries {
        let name = e.tier.map_or("none".to_string(), |t| format!("{t:?}"));
        match tiers.iter_mut().find(|t| t.tier == name) {
            Some(t) => {
                t.shards += 1;
                t.bytes += e.bytes;
            }
            None => tiers.push(TierTotal {
                tier: name,
                shards: 1,
                bytes: e.bytes,
            }),
        }
    }
    let totals = classes
        .iter()
        .map(|c| {
            let of: Vec<&PlanEntry> = entries.iter().filter(|e| e.class == *c).collect();
            ClassTotal {
                class: *c,
                shards: of.len() as u64,
                bytes: of.iter().map(|e| e.bytes).sum(),
            }
        })
        .collect();
    let mut p = PrunePlan {
        created_at: now,
        classes,
        entries,
        totals,
        lost,
        filter: filter.clone(),
        tiers,
        hash: String::new(),
    };
    p.hash = plan_hash(&p);
    Ok(p)
}
