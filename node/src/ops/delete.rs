//! `backup delete`: the owner lets a backup go (erasure on request).
//!
//! The owner's node finds every shard the backup references (root, manifest
//! pieces, chunks) and keeps those another listed backup of the owner also
//! references (dedup): deleting one backup never weakens another. The
//! catalogue entry gives way to a tombstone, recorded locally first and then
//! published (a holder serving an older record cannot bring it back). Then
//! every shard left gets an owner-signed release of its lease, sent to the
//! shard's responsible peers (with the spill margin repair uses) and applied
//! to the local copy. A holder drops the lease and stops charging the owner;
//! the copy itself goes when prune finds it with no live lease (`orphaned`),
//! through quarantine like every other removal. Holders outside that set
//! keep a lease that runs out at its expiry.

use crate::distribute::Net;
use crate::manifests;
use crate::ops::{Ctx, OpError};
use futures::StreamExt;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::{CatalogueEntry, Tombstone};
use shardnet_protocol::lease::Release;
use shardnet_protocol::manifest::StripeRef;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{placement, repair, BackupId, MasterKey, ShardId, Terms};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::{info, warn};

/// Releases in flight at once.
const RELEASES_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HolderRow {
    pub peer: String,
    /// Leases this peer dropped.
    pub released: u64,
    /// Shards this peer held no lease of ours on (not a holder, or already released).
    pub not_held: u64,
    /// Releases that failed (unreachable, refused, busy to the end).
    pub failed: u64,
}

impl HolderRow {
    pub fn new(peer: String) -> Self {
        HolderRow {
            peer,
            released: 0,
            not_held: 0,
            failed: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteReport {
    pub backup: BackupId,
    pub name: String,
    /// Distinct shards the backup references.
    pub shards: usize,
    /// Of those, kept because another listed backup references them too.
    pub shared: usize,
    /// Shards whose lease at least one holder (or this node) dropped.
    pub released: usize,
    /// Shards released nowhere: every holder asked was unreachable or had
    /// no lease of ours (their leases run out at the backup's expiry).
    pub unreleased: usize,
    /// What happened to the catalogue record.
    pub catalogue: String,
    /// Per holder, this node first when it held copies.
    pub holders: Vec<HolderRow>,
}

/// Every shard backup `id` references (its manifest's, and its file
/// chunks' as stored: the shard, or its pieces), and of those the pieces
/// with their stripe's size.
pub(crate) struct Referenced {
    pub(crate) ids: BTreeSet<ShardId>,
    pieces: HashMap<ShardId, usize>,
    /// The chunks kept as pieces.
    pub(crate) stripes: Vec<StripeRef>,
}

impl Referenced {
    /// Peers to ask about `id`, a shard of `copies` copies: its responsible
    /// set and the spill margin; for a piece, as many as its stripe has
    /// pieces, since its siblings' holders may be closer to it.
    pub(crate) fn width(&self, id: &ShardId, copies: usize) -> usize {
        self.pieces.get(id).copied().unwrap_or(copies) + repair::SPILL
    }

    /// The copies a lease on `id` asks for: one for a piece, whatever the
    /// tier (repair rebuilds pieces; it never copies them).
    pub(crate) fn copies(&self, id: &ShardId, copies: u8) -> u8 {
        if self.pieces.contains_key(id) {
            1
        } else {
            copies
        }
    }
}

pub(crate) fn shards_of(
    src: &dyn crate::shards::ShardSource,
    master: &MasterKey,
    id: &BackupId,
) -> Result<Referenced, manifests::LoadError> {
    let (root, m) = manifests::load(src, master, id)?;
    let mut ids = BTreeSet::new();
    ids.insert(*id);
    ids.extend(root.pieces.iter().map(|p| p.id));
    ids.extend(m.stored_ids());
    let pieces = m
        .stripes
        .iter()
        .flat_map(|s| s.pieces.iter().map(move |p| (*p, s.pieces.len())))
        .collect();
    Ok(Referenced {
        ids,
        pieces,
        stripes: m.stripes,
    })
}

/// The shards of backup `id`, and those of them another backup in `listed`
/// references too. Without the other's manifest nothing proves a shard is
/// not shared: an error then, before anything changes.
pub(crate) fn shards_and_shared(
    ctx: &Ctx<'_>,
    listed: &[CatalogueEntry],
    id: &BackupId,
) -> Result<(Referenced, BTreeSet<ShardId>), OpError> {
    let src = ctx.source();
    let mine = shards_of(src.as_ref(), &ctx.master, id)?;
    let mut shared = BTreeSet::new();
    for other in listed.iter().filter(|e| e.id != *id) {
        let theirs = shards_of(src.as_ref(), &ctx.master, &other.id).map_err(|e| {
            OpError::Swarm(format!(
                "cannot tell which shards backup {} ({}) shares with {}: {e}. Nothing was changed; retry when its holders are back",
                other.id, other.info.name, id
            ))
        })?;
        shared.extend(mine.ids.intersection(&theirs.ids).copied());
    }
    Ok((mine, shared))
}

pub fn delete(ctx: &Ctx<'_>, id: &BackupId) -> Result<DeleteReport, OpError> {
    let listed = crate::ops::backup_list(ctx, true)?;
    let Some(entry) = listed.iter().find(|e| e.id == *id).cloned() else {
        return Err(manifests::LoadError::Unknown(*id).into());
    };
    let (mine, shared) = shards_and_shared(ctx, &listed, id)?;
    let release: Vec<ShardId> = mine.ids.difference(&shared).copied().collect();
    let now = crate::output::now_unix();
    let tomb = Tombstone {
        id: *id,
        deleted_at: now,
    };
    ctx.store.delete_backup(&tomb)?;
    let catalogue = match ctx.net {
        Some(net) => match crate::catalogue::remove_from_catalogue(net, ctx.store, &ctx.master, &tomb) {
            Ok(crate::catalogue::CatalogueUpkeep::Published { entries, .. }) => {
                format!("tombstone published; {entries} backups listed")
            }
            Ok(other) => format!(
                "tombstone kept locally, not yet published ({other:?}); the catalogue upkeep publishes it"
            ),
            Err(e) => format!(
                "tombstone kept locally, publishing failed ({e}); the catalogue upkeep retries"
            ),
        },
        None => "tombstone kept locally (no daemon: start the node to publish it)".into(),
    };
    let terms = Terms::new(&ctx.master, entry.info.expires_at, 1);
    let mut released: BTreeSet<ShardId> = BTreeSet::new();
    let mut holders: BTreeMap<String, HolderRow> = BTreeMap::new();
    let local = local_releases(ctx, &terms, &release, now, &mut released)?;
    if local.released > 0 {
        holders.insert(local.peer.clone(), local);
    }
    if let Some(net) = ctx.net {
        remote_releases(
            net,
            &entry,
            (&terms, &mine),
            &release,
            now,
            &mut released,
            &mut holders,
        );
    }
    info!(
        backup = %id,
        shards = mine.ids.len(),
        shared = shared.len(),
        released = released.len(),
        "backup deleted"
    );
    Ok(DeleteReport {
        backup: *id,
        name: entry.info.name,
        shards: mine.ids.len(),
        shared: shared.len(),
        released: released.len(),
        unreleased: release.len() - released.len(),
        catalogue,
        holders: holders.into_values().collect(),
    })
}

fn local_releases(
    ctx: &Ctx<'_>,
    terms: &Terms,
    ids: &[ShardId],
    now: u64,
    released: &mut BTreeSet<ShardId>,
) -> Result<HolderRow, OpError> {
    let mut row = HolderRow::new(ctx.net.map_or_else(
        || "this node".to_string(),
        |n| n.client.local_peer_id().to_string(),
    ));
    for id in ids {
        let r = terms.release(id, now);
        match ctx.store.release_lease(id, &r, None)? {
            Some(size) => {
                if let Some(net) = ctx.net {
                    net.usage.release(&r.owner, size);
                }
                row.released += 1;
                released.insert(*id);
            }
            None => row.not_held += 1,
        }
    }
    Ok(row)
}

fn remote_releases(
    net: &Net,
    entry: &CatalogueEntry,
    (terms, mine): (&Terms, &Referenced),
    ids: &[ShardId],
    now: u64,
    released: &mut BTreeSet<ShardId>,
    holders: &mut BTreeMap<String, HolderRow>,
) {
    let candidates = net.view.candidates();
    let local = net.client.local_peer_id();
    let copies = entry.info.tier.copies() as usize;
    let sends: Vec<(ShardId, PeerId, Release)> = ids
        .iter()
        .flat_map(|id| {
            let r = terms.release(id, now);
            placement::responsible_set(id, 0, &candidates, mine.width(id, copies))
                .into_iter()
                .filter(|p| *p != local)
                .map(move |p| (*id, p, r))
        })
        .collect();
    let answers: Vec<(ShardId, PeerId, Result<bool, String>)> = net.handle.block_on(
        futures::stream::iter(sends)
            .map(|(id, peer, release)| {
                let client = net.client.clone();
                let req = Request::Release {
                    id,
                    release: Box::new(release),
                    replacement: None,
                };
                async move {
                    let a = match crate::net::ask(&client, peer, req).await {
                        Ok(Response::Released(dropped)) => Ok(dropped),
                        Ok(Response::Rejected(r)) => Err(r.to_string()),
                        Ok(other) => Err(format!("unexpected answer {other:?}")),
                        Err(e) => Err(e),
                    };
                    (id, peer, a)
                }
            })
            .buffer_unordered(RELEASES_IN_FLIGHT)
            .collect(),
    );
    for (id, peer, a) in answers {
        let row = holders
            .entry(peer.to_string())
            .or_insert_with(|| HolderRow::new(peer.to_string()));
        match a {
            Ok(true) => {
                row.released += 1;
                released.insert(id);
            }
            Ok(false) => row.not_held += 1,
            Err(e) => {
                warn!(%peer, shard = %id, "lease release failed: {e}");
                row.failed += 1;
            }
        }
    }
    holders.retain(|_, r| r.released + r.failed > 0);
}
