//! `retention extend|tier|audit`: how long, and in how many copies, the swarm
//! keeps a backup, changed by its owner; and where every backup stands.
//!
//! A change re-signs the lease of every shard of the backup under the new
//! terms and sends it to the shard's responsible peers (with repair's spill
//! margin) and to the local copy; the catalogue entry carries the new tier
//! and expiry. A longer or bigger lease simply replaces the old one (a
//! holder keeps the longest); repair then adds the copies a higher tier
//! wants. A shorter or smaller one cannot (a lease only grows, or any peer
//! could shorten it by replaying an old one), so it travels as an
//! owner-signed release of the old lease together with its replacement,
//! applied at once by the holder; repair then quarantines the surplus copies
//! outside the smaller responsible set, with proofs, and prune purges them.
//! Shards another listed backup shares keep their lease when lowering: the
//! other backup still needs it.

use crate::net::ask;
use crate::ops::delete::{self, HolderRow};
use crate::ops::{Ctx, OpError};
use futures::StreamExt;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::lease::{StripeRecord, MAX_TERM_SECS};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{placement, BackupId, ShardId, Terms, Tier};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tracing::{info, warn};

const IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeReport {
    pub backup: BackupId,
    pub name: String,
    pub from_tier: Tier,
    pub to_tier: Tier,
    pub from_expiry: u64,
    pub to_expiry: u64,
    /// Distinct shards the backup references.
    pub shards: usize,
    /// Kept at their lease: another listed backup shares them (lowering only).
    pub kept_shared: usize,
    /// Shards whose new lease at least one holder took.
    pub updated: usize,
    pub catalogue: String,
    pub holders: Vec<HolderRow>,
}

/// `retention extend ID --by D`: the expiry moves `by` seconds later.
pub fn extend(ctx: &Ctx<'_>, id: &BackupId, by: u64) -> Result<ChangeReport, OpError> {
    let listed = crate::ops::backup_list(ctx, true)?;
    let entry = find(&listed, id)?;
    let to = entry.info.expires_at.saturating_add(by);
    change(ctx, &listed, entry.clone(), entry.info.tier, to)
}

/// `retention tier ID T`: the tier's copies, and its term from the backup's
/// creation.
pub fn set_tier(ctx: &Ctx<'_>, id: &BackupId, tier: Tier) -> Result<ChangeReport, OpError> {
    let listed = crate::ops::backup_list(ctx, true)?;
    let entry = find(&listed, id)?;
    let to = tier.expires_at(entry.info.created_at);
    change(ctx, &listed, entry, tier, to)
}

fn find(listed: &[CatalogueEntry], id: &BackupId) -> Result<CatalogueEntry, OpError> {
    listed
        .iter()
        .find(|e| e.id == *id)
        .cloned()
        .ok_or_else(|| crate::manifests::LoadError::Unknown(*id).into())
}

/// Re-signs backup `entry` (one of `listed`, the owner's backups) under
/// `tier` until `to`.
fn change(
    ctx: &Ctx<'_>,
    listed: &[CatalogueEntry],
    mut entry: CatalogueEntry,
    tier: Tier,
    to: u64,
) -> Result<ChangeReport, OpError> {
    let now = crate::output::now_unix();
    let id = entry.id;
    let (from_tier, from) = (entry.info.tier, entry.info.expires_at);
    if to <= now {
        return Err(OpError::Swarm(format!(
            "backup {id} would have expired on {} under these terms; to let it go now, `shardnet backup delete {id}`",
            crate::output::time(to)
        )));
    }
    if to > now + MAX_TERM_SECS {
        return Err(OpError::Swarm(format!(
            "a lease may run at most {} days from now; {} is later",
            MAX_TERM_SECS / 86_400,
            crate::output::time(to)
        )));
    }
    let copies = tier.copies() as u8;
    let lower = to < from || copies < from_tier.copies() as u8;
    let (mine, shared) = delete::shards_and_shared(ctx, listed, &id)?;
    let shared = if lower { shared } else { BTreeSet::new() };
    let targets: Vec<ShardId> = mine.ids.difference(&shared).copied().collect();
    let new_terms = Terms::new(&ctx.master, to, copies);
    // A piece stays one copy: the scheme chosen at backup time is kept.
    let piece_terms = Terms::new(&ctx.master, to, 1);
    let old_terms = Terms::new(&ctx.master, from, 1);
    // A piece's renewal carries its stripe's record at the new expiry, so
    // that a piece its holders rebuild gets the extended lease too.
    let records: HashMap<ShardId, Arc<StripeRecord>> = if lower {
        HashMap::new()
    } else {
        mine.stripes
            .iter()
            .flat_map(|s| {
                let r = Arc::new(piece_terms.stripe_record(s));
                s.pieces.iter().map(move |p| (*p, r.clone()))
            })
            .collect()
    };
    // One request per shard, whoever gets it.
    let request = |sid: &ShardId| -> Request {
        let lease = match mine.copies(sid, copies) {
            1 => piece_terms.lease(sid),
            _ => new_terms.lease(sid),
        };
        if lower {
            Request::Release {
                id: *sid,
                release: Box::new(old_terms.release(sid, now)),
                replacement: Some(Box::new(lease)),
            }
        } else if let Some(r) = records.get(sid) {
            Request::Stripe {
                id: *sid,
                record: Box::new((**r).clone()),
            }
        } else {
            Request::Renew { id: *sid, lease }
        }
    };
    let mut updated: BTreeSet<ShardId> = BTreeSet::new();
    let mut holders: BTreeMap<String, HolderRow> = BTreeMap::new();
    let local_name = ctx.net.map_or_else(
        || "this node".to_string(),
        |n| n.client.local_peer_id().to_string(),
    );
    for sid in &targets {
        let ok = match request(sid) {
            Request::Release {
                release,
                replacement,
                ..
            } => ctx
                .store
                .release_lease(sid, &release, replacement.map(|l| *l))?
                .is_some(),
            Request::Renew { lease, .. } => ctx.store.add_lease(sid, lease)?,
            Request::Stripe { record, .. } => {
                match record.index_of(sid).and_then(|i| record.lease(i)) {
                    Some(l) => {
                        ctx.store.add_lease(sid, l)? && ctx.store.set_stripe(sid, &record)?
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if ok {
            updated.insert(*sid);
            row(&mut holders, &local_name).released += 1;
        }
    }
    if let Some(net) = ctx.net {
        let candidates = net.view.candidates();
        let local = net.client.local_peer_id();
        let widest = copies.max(from_tier.copies() as u8) as usize;
        let sends: Vec<(ShardId, PeerId, Request)> = targets
            .iter()
            .flat_map(|sid| {
                let req = request(sid);
                placement::responsible_set(sid, 0, &candidates, mine.width(sid, widest))
                    .into_iter()
                    .filter(|p| *p != local)
                    .map(move |p| (*sid, p, req.clone()))
            })
            .collect();
        let answers: Vec<(ShardId, PeerId, Result<Response, String>)> = net.handle.block_on(
            futures::stream::iter(sends)
                .map(|(sid, peer, req)| {
                    let client = net.client.clone();
                    async move { (sid, peer, ask(&client, peer, req).await) }
                })
                .buffer_unordered(IN_FLIGHT)
                .collect(),
        );
        for (sid, peer, a) in answers {
            let r = row(&mut holders, &peer.to_string());
            match a {
                Ok(Response::Renewed | Response::Released(true)) => {
                    r.released += 1;
                    updated.insert(sid);
                }
                Ok(Response::NotFound | Response::Released(false)) => r.not_held += 1,
                Ok(other) => {
                    warn!(%peer, shard = %sid, "lease change refused: {other:?}");
                    r.failed += 1;
                }
                Err(e) => {
                    warn!(%peer, shard = %sid, "lease change failed: {e}");
                    r.failed += 1;
                }
            }
        }
    }
    holders.retain(|_, r| r.released + r.failed > 0);
    entry.info.tier = tier;
    entry.info.expires_at = to;
    ctx.store.put_backup(&entry)?;
    let catalogue = match ctx.net {
        Some(net) => {
            match crate::catalogue::add_to_catalogue(net, ctx.store, &ctx.master, &entry) {
                Ok(crate::catalogue::CatalogueUpkeep::Published { .. }) => "published".to_string(),
                Ok(other) => format!(
                "kept locally, not yet published ({other:?}); the catalogue upkeep publishes it"
            ),
                Err(e) => {
                    format!("kept locally, publishing failed ({e}); the catalogue upkeep retries")
                }
            }
        }
        None => "kept locally (no daemon: start the node to publish it)".into(),
    };
    info!(backup = %id, %tier, expires_at = to, updated = updated.len(), "retention changed");
    Ok(ChangeReport {
        backup: id,
        name: entry.info.name,
        from_tier,
        to_tier: tier,
        from_expiry: from,
        to_expiry: to,
        shards: mine.ids.len(),
        kept_shared: shared.len(),
        updated: updated.len(),
        catalogue,
        holders: holders.into_values().collect(),
    })
}

fn row<'a>(holders: &'a mut BTreeMap<String, HolderRow>, peer: &str) -> &'a mut HolderRow {
    holders
        .entry(peer.to_string())
        .or_insert_with(|| HolderRow::new(peer.to_string()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRow {
    pub backup: BackupId,
    pub name: String,
    pub tier: Tier,
    pub created_at: u64,
    pub expires_at: u64,
    /// Whole days until expiry (negative: past it).
    pub days_left: i64,
    /// ok, expiring (within the warning window) or expired.
    pub state: String,
    /// Copies the tier wants of every shard.
    pub copies_target: usize,
    /// Fewest copies proven just now of any of its shards (None: not checked,
    /// expired or unreadable).
    pub proven_min: Option<usize>,
    /// Shards with fewer proven copies than the target.
    pub below_target: u64,
    pub shards: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetentionAudit {
    pub at: u64,
    pub warn_days: u64,
    pub backups: Vec<AuditRow>,
    /// Copies in this node's store that no live lease wants any more
    /// (expired past their grace, or orphaned): prune's to remove.
    pub expired_held_shards: u64,
    pub expired_held_bytes: u64,
}

/// `retention audit`: every backup of the owner against its tier, with the
/// copies proven of its shards now (the quick verify), and what this node
/// still holds past expiry.
pub fn audit(ctx: &Ctx<'_>, warn_days: u64) -> Result<RetentionAudit, OpError> {
    let now = crate::output::now_unix();
    let mut backups = Vec::new();
    for e in crate::ops::backup_list(ctx, true)? {
        let days_left = (e.info.expires_at as i64 - now as i64).div_euclid(86_400);
        let expired = e.info.expires_at <= now;
        let expiring = !expired && e.info.expires_at <= now + warn_days * 86_400;
        let target = e.info.tier.copies() as usize;
        let mut warnings = Vec::new();
        let (mut proven_min, mut below) = (None, 0);
        if expired {
            warnings.push(format!(
                "expired on {}: its copies are pruned after the grace period",
                crate::output::time(e.info.expires_at)
            ));
        } else {
            if expiring {
                warnings.push(format!(
                    "expires in {days_left} days: `shardnet retention extend {} --by 1y` to keep it",
                    e.id
                ));
            }
            match crate::ops::backup_verify(ctx, &e.id, false) {
                Ok(v) => {
                    proven_min = v.proven_copies.first().map(|(c, _)| *c);
                    below = v
                        .proven_copies
                        .iter()
                        .filter(|(c, _)| *c < target)
                        .map(|(_, n)| *n)
                        .sum();
                    if below > 0 {
                        warnings.push(format!(
                            "{below} shards have fewer than {target} proven copies (repair restores them)"
                        ));
                    }
                    if v.pieces_short > 0 {
                        warnings.push(format!(
                            "{} chunks kept as pieces have fewer proven pieces than they need to be restored (`shardnet backup verify {}` names them)",
                            v.pieces_short, e.id
                        ));
                        below += v.pieces_short;
                    }
                }
                Err(err) => warnings.push(format!("could not check copies: {err}")),
            }
        }
        backups.push(AuditRow {
            backup: e.id,
            name: e.info.name.clone(),
            tier: e.info.tier,
            created_at: e.info.created_at,
            expires_at: e.info.expires_at,
            days_left,
            state: if expired {
                "expired"
            } else if expiring {
                "expiring"
            } else {
                "ok"
            }
            .into(),
            copies_target: target,
            proven_min,
            below_target: below,
            shards: e.shards,
            warnings,
        });
    }
    let (mut shards, mut bytes) = (0, 0);
    ctx.store.for_each_meta(|_, m| {
        if shardnet_protocol::retention::lease_state(
            &m.leases,
            now,
            shardnet_protocol::retention::GRACE_SECS,
        )
        .prunable()
        {
            shards += 1;
            bytes += m.size as u64;
        }
        true
    })?;
    Ok(RetentionAudit {
        at: now,
        warn_days,
        backups,
        expired_held_shards: shards,
        expired_held_bytes: bytes,
    })
}
