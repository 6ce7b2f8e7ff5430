//! `backup repair`, and the daemon's periodic pass over the owner's
//! backups: pieces of erasure-coded chunks that no peer proves any more are
//! rebuilt by the owner's node and stored again.
//!
//! The owner checks a rebuild against its manifest's piece ids and signs
//! the rebuilt pieces' leases itself. While it is offline, the holders do
//! the same from its signed stripe records (`repair::pieces`).
//!
//! Per stripe: every piece is proven now (sampled slices, the quick
//! verify's proofs, asked of each piece's `k+m+2` closest peers),
//! `protocol::redundancy::rebuild::plan` decides (lazy: below the floor
//! `k + ceil(m/2)`; `backup repair`: anything missing), `k` proven pieces are
//! fetched and checked by id, `stripe::rebuild` makes every missing piece
//! at once, each must hash to the id the manifest lists, and each goes to
//! its place by its own id, off the peers holding its siblings.

use super::{Ctx, OpError};
use crate::distribute::SwarmSink;
use crate::manifests;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::manifest::{EntryKind, StripeRef};
use shardnet_protocol::redundancy::rebuild::{self, Rebuild};
use shardnet_protocol::redundancy::stripe;
use shardnet_protocol::{BackupId, ShardId};
use std::collections::{HashMap, HashSet};
use tracing::{info, warn};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RebuildReport {
    pub backup: Option<BackupId>,
    /// Chunks kept as pieces.
    pub stripes: u64,
    /// With every piece proven.
    pub whole: u64,
    /// Missing pieces, at or above the floor: left for later (lazy pass).
    pub waiting: u64,
    pub rebuilt_pieces: u64,
    pub bytes_sent: u64,
    /// Chunks with fewer than `k` pieces proven now.
    pub unrecoverable: Vec<ShardId>,
    /// Pieces that could not be rebuilt or stored, and why.
    pub failures: Vec<String>,
}

/// Rebuilds the missing pieces of backup `id` (`eager`: every missing
/// piece; else only stripes below their floor).
pub fn rebuild(ctx: &Ctx<'_>, id: &BackupId, eager: bool) -> Result<RebuildReport, OpError> {
    let entry = super::backup_list_all(ctx)?
        .into_iter()
        .find(|e| e.id == *id)
        .ok_or(manifests::LoadError::Unknown(*id))?;
    rebuild_entry(ctx, &entry, eager)
}

/// [`rebuild`] of the catalogue's `entry` (its expiry is the rebuilt
/// pieces' lease).
fn rebuild_entry(
    ctx: &Ctx<'_>,
    entry: &CatalogueEntry,
    eager: bool,
) -> Result<RebuildReport, OpError> {
    let net = ctx.net.ok_or_else(|| {
        OpError::Swarm("repairing pieces asks the swarm: start the node first".into())
    })?;
    let id = &entry.id;
    let src = ctx.source();
    let (_, m) = manifests::load(src.as_ref(), &ctx.master, id)?;
    let mut report = RebuildReport {
        backup: Some(*id),
        stripes: m.stripes.len() as u64,
        ..Default::default()
    };
    if m.stripes.is_empty() {
        return Ok(report);
    }
    // A piece's size: a `k`th of its chunk (a sample past the end proves
    // the final slice).
    let mut len: HashMap<ShardId, u64> = HashMap::new();
    for e in &m.entries {
        if let EntryKind::File { chunks, .. } = &e.kind {
            len.extend(chunks.iter().map(|c| (c.id, c.len as u64)));
        }
    }
    let ids: Vec<(ShardId, u64)> = m
        .stripes
        .iter()
        .flat_map(|s| {
            let size = len
                .get(&s.shard)
                .copied()
                .unwrap_or(0)
                .div_ceil(s.data as u64);
            s.pieces.iter().map(move |p| (*p, size))
        })
        .collect();
    let local = net.client.local_peer_id();
    // Each piece is asked of the peers where placement keeps it (a piece
    // may sit past closer peers holding its siblings), not of every peer.
    let width = m
        .stripes
        .iter()
        .map(|s| s.pieces.len() + 2)
        .max()
        .unwrap_or(0);
    let proven: HashMap<ShardId, Vec<PeerId>> = ids
        .iter()
        .map(|(id, _)| *id)
        .zip(crate::distribute::proven_holders_near(
            net, ctx.store, &ids, width,
        ))
        .map(|(id, r)| {
            let peers = r
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.unwrap_or(local))
                .collect();
            (id, peers)
        })
        .collect();
    let sink = SwarmSink::new(net, ctx.store, &ctx.master);
    for s in &m.stripes {
        let flags: Vec<bool> = s
            .pieces
            .iter()
            .map(|p| proven.get(p).is_some_and(|h| !h.is_empty()))
            .collect();
        match rebuild::plan(s.scheme(), &flags, eager) {
            Rebuild::Whole => report.whole += 1,
            Rebuild::Waiting { .. } => report.waiting += 1,
            Rebuild::Lost { proven } => {
                warn!(shard = %s.shard, proven, "too few pieces proven to rebuild");
                report.unrecoverable.push(s.shard);
            }
            Rebuild::Now { missing } => {
                let holders: HashSet<PeerId> = s
                    .pieces
                    .iter()
                    .flat_map(|p| proven.get(p).into_iter().flatten().copied())
                    .collect();
                let usable: Vec<usize> = (0..s.pieces.len()).filter(|i| flags[*i]).collect();
                match rebuild_one(src.as_ref(), s, &usable, &missing) {
                    Ok(pieces) => {
                        let sizes: Vec<u64> =
                            pieces.iter().map(|(_, p)| p.bytes().len() as u64).collect();
                        let sent = sink.put_rebuilt(s, pieces, &holders, entry.info.expires_at);
                        for ((i, r), size) in missing.iter().zip(sent).zip(sizes) {
                            match r {
                                Ok(peer) => {
                                    info!(shard = %s.shard, piece = i, %peer, "piece rebuilt");
                                    report.rebuilt_pieces += 1;
                                    report.bytes_sent += size;
                                }
                                Err(e) => report
                                    .failures
                                    .push(format!("shard {} piece {i}: {e}", s.shard)),
                            }
                        }
                    }
                    Err(e) => report.failures.push(format!("shard {}: {e}", s.shard)),
                }
            }
        }
    }
    Ok(report)
}

/// Gathers `k` of the `usable` pieces and rebuilds the `missing` ones, each
/// checked against the id the manifest (or the owner's stripe record) lists.
pub(crate) fn rebuild_one(
    src: &dyn crate::shards::ShardSource,
    s: &StripeRef,
    usable: &[usize],
    missing: &[usize],
) -> Result<Vec<(usize, stripe::Piece)>, String> {
    let got = crate::pieces::gather(src, s, usable).map_err(|e| e.to_string())?;
    let rebuilt = stripe::rebuild(&got, missing).map_err(|e| e.to_string())?;
    missing
        .iter()
        .zip(rebuilt)
        .map(|(i, p)| {
            if p.id() == s.pieces[*i] {
                Ok((*i, p))
            } else {
                Err(format!(
                    "rebuilt piece {i} is not the piece the manifest lists: a gathered piece is wrong"
                ))
            }
        })
        .collect()
}

/// The lazy pass over every live backup of the owner (the daemon's
/// upkeep): the sum of the reports. The catalogue is read once; backups in
/// `copies_only` (a backup's manifest never changes) are not loaded again,
/// and those found to keep no pieces are added to it.
pub fn rebuild_all(
    ctx: &Ctx<'_>,
    copies_only: &mut HashSet<BackupId>,
) -> Result<RebuildReport, OpError> {
    let mut total = RebuildReport::default();
    for e in super::backup_list(ctx, false)? {
        if copies_only.contains(&e.id) {
            continue;
        }
        match rebuild_entry(ctx, &e, false) {
            Ok(r) => {
                if r.stripes == 0 {
                    copies_only.insert(e.id);
                }
                total.stripes += r.stripes;
                total.whole += r.whole;
                total.waiting += r.waiting;
                total.rebuilt_pieces += r.rebuilt_pieces;
                total.bytes_sent += r.bytes_sent;
                total.unrecoverable.extend(r.unrecoverable);
                total.failures.extend(r.failures);
            }
            Err(err) => total.failures.push(format!("backup {}: {err}", e.id)),
        }
    }
    Ok(total)
}
