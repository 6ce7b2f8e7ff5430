//! `keys rotate`: a new owner key takes over every live backup of the old
//! one, for when the old key may have leaked.
//!
//! The order is what makes it safe to cut short at any point and run again:
//!
//! 1. The new key is made and kept (`owner.key.rotating`) before anything is
//!    signed with it; a second run picks it up.
//! 2. Every live backup's manifest is re-sealed under the new key and stored
//!    (its root nonce derives from the new key and the old root, so a second
//!    run writes the same shards, not new ones).
//! 3. Every data shard gets a lease signed by the new key on each holder,
//!    and only where a holder took it does the old key's lease go. A shard
//!    that no holder took a new lease for stops the rotation before step 5:
//!    whoever holds the old key could otherwise release its last lease.
//! 4. The old manifest shards are released (prune removes them as orphans);
//!    the catalogue of the new key is published with a quorum.
//! 5. The old key's catalogue ends with a signed revocation naming the new
//!    owner; then the new key replaces `owner.key` (the old one is kept as
//!    `owner.key.retired-TIME`).
//!
//! `SHARDNET_CRASH_AT=rotate:N` kills the process at the N-th of these
//! points: after each re-sealed manifest, after the leases, after the new
//! catalogue, after the revocation (tests/e2e_rotate.rs).
//!
//! With `--reencrypt`, step 3 is different: every data shard is fetched,
//! opened with its old key and sealed again under the new convergence key
//! (a new id), stored where it belongs, and the manifest names the new
//! shards; the old ones are released with the old manifests in step 4.
//!
//! What it does not do (without `--reencrypt`): the data shards stay
//! encrypted under keys derived from their content and the old convergence
//! secret. Someone who copied
//! the old key and the old manifests can still read the data shards they
//! fetch; rotation stops them from listing, changing, deleting or reading
//! anything backed up from now on (see README, "Key rotation").

use crate::datadir::DataDir;
use crate::distribute::{Net, SwarmSink};
use crate::manifests::{self, LoadError};
use crate::ops::delete::HolderRow;
use crate::ops::{Ctx, OpError};
use crate::shards::ShardSink;
use futures::StreamExt;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::{CatalogueEntry, Revocation};
use shardnet_protocol::envelope::{self, Header, NonceMode};
use shardnet_protocol::lease::{Release, MAX_TERM_SECS};
use shardnet_protocol::lifecycle::Keep;
use shardnet_protocol::manifest::{self, ChunkRef, EntryKind, ManifestError};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{placement, repair, BackupId, MasterKey, ShardId, Terms};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use tracing::{info, warn};

const IN_FLIGHT: usize = 32;

/// One rotation at a time per process.
static ROTATING: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MovedBackup {
    pub old_id: BackupId,
    pub new_id: BackupId,
    pub name: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateReport {
    pub old_owner: String,
    pub new_owner: String,
    /// Live backups, now in the new key's catalogue.
    pub backups: Vec<MovedBackup>,
    /// Backups past their expiry, left to run out under the old key.
    pub expired_left: usize,
    /// Distinct data shards of the live backups.
    pub data_shards: usize,
    /// (shard, holder) pairs where the new lease replaced the old one.
    pub leases_moved: usize,
    /// Old shards released (prune removes them): the old manifests, and
    /// with `--reencrypt` the old data shards too.
    pub old_manifest_shards: usize,
    /// Data shards rewritten under the new key (`--reencrypt`); their old
    /// copies were released.
    #[serde(default)]
    pub reencrypted: usize,
    /// Holders of the old catalogue slot that confirmed the revocation.
    pub revocation_confirmed: usize,
    /// Where the old key was kept.
    pub retired_key: String,
    pub holders: Vec<HolderRow>,
}

/// Rotates the owner key of `ctx` (the daemon's), through the swarm.
pub fn rotate(ctx: &Ctx<'_>, reencrypt: bool) -> Result<RotateReport, OpError> {
    let Ok(_one) = ROTATING.try_lock() else {
        return Err(OpError::Swarm(
            "a key rotation is already running on this node".into(),
        ));
    };
    let Some(net) = ctx.net else {
        return Err(OpError::Swarm(
            "keys rotate re-signs the backups on their holders: start the node (`shardnet node run`) and run it again".into(),
        ));
    };
    let dd = DataDir::new(&ctx.data_dir);
    let old = &ctx.master;
    let new = dd
        .rotation_key()
        .map_err(|e| OpError::Swarm(format!("making the new owner key: {e}")))?;
    let now = crate::output::now_unix();
    let mut report = RotateReport {
        old_owner: old.owner_id().to_string(),
        new_owner: new.owner_id().to_string(),
        backups: Vec::new(),
        expired_left: 0,
        data_shards: 0,
        leases_moved: 0,
        old_manifest_shards: 0,
        reencrypted: 0,
        revocation_confirmed: 0,
        retired_key: String::new(),
        holders: Vec::new(),
    };
    match crate::catalogue::revocation(net, ctx.store, old) {
        Some(r) if r.successor == new.owner_id() => {
            // Cut short after the revocation: only the key swap is left.
            info!("the old key is already revoked in favour of the new one");
        }
        Some(r) => {
            return Err(OpError::Swarm(format!(
                "this owner key was already retired in favour of owner {}; import that key (`shardnet keys import`) instead of rotating this one",
                r.successor
            )))
        }
        None => move_backups(ctx, net, &new, now, reencrypt, &mut report)?,
    }
    report.retired_key = dd
        .finish_rotation(now)
        .map_err(|e| OpError::Swarm(format!("installing the new owner key: {e}")))?
        .display()
        .to_string();
    info!(old = %report.old_owner, new = %report.new_owner, "owner key rotated");
    Ok(report)
}

/// Steps 2 to 5 of the rotation (module docs).
fn move_backups(
    ctx: &Ctx<'_>,
    net: &Net,
    new: &MasterKey,
    now: u64,
    reencrypt: bool,
    report: &mut RotateReport,
) -> Result<(), OpError> {
    let old = &ctx.master;
    // --reencrypt: old data shard → (its new ref, the expiry and copies it
    // was stored under).
    let mut resealed: HashMap<ShardId, (ChunkRef, u64, u8)> = HashMap::new();
    let rules = crate::config::lifecycle_rules(&ctx.data_dir)
        .map_err(|e| OpError::Swarm(format!("{e}: fix the lifecycle rules, then rotate again")))?;
    let src = ctx.source();
    // With a quorum of the old slot's holders: a backup only the silent ones
    // list would be left behind under a revoked key.
    let listed = crate::catalogue::fetch_catalogue_quorum(net, ctx.store, old).map_err(|e| {
        OpError::Swarm(format!(
            "{e}; nothing was changed, run `shardnet keys rotate` again when more peers are up"
        ))
    })?;
    // Data shard → (expiry, copies): the widest any live backup wants.
    let mut chunks: BTreeMap<ShardId, (u64, u8)> = BTreeMap::new();
    let mut old_manifest: BTreeMap<ShardId, u8> = BTreeMap::new();
    let mut moved: Vec<(BackupId, CatalogueEntry)> = Vec::new();
    for entry in &listed {
        if entry.info.expires_at <= now {
            report.expired_left += 1;
            continue;
        }
        let (root, mut m) = match manifests::load(src.as_ref(), old, &entry.id) {
            Ok(x) => x,
            // Moved by an earlier run that was cut short (this node lists
            // its new entries too).
            Err(LoadError::Manifest {
                source: ManifestError::WrongKey,
                ..
            }) if manifests::load_root(src.as_ref(), new, &entry.id).is_ok() => continue,
            Err(e) => return Err(e.into()),
        };
        let tier = Keep::of(entry.info.tier);
        let mut widest = tier;
        let sink = SwarmSink::new(net, ctx.store, new);
        let exp = entry.info.expires_at;
        for e in &mut m.entries {
            let keep = rules
                .keep_for(&String::from_utf8_lossy(&e.path), tier)
                .widest(tier);
            if let EntryKind::File { chunks: refs, .. } = &mut e.kind {
                widest = widest.widest(keep);
                for c in refs.iter_mut() {
                    if !reencrypt {
                        let t = chunks.entry(c.id).or_insert((0, 0));
                        *t = (t.0.max(exp), t.1.max(keep.copies));
                        continue;
                    }
                    let old_id = c.id;
                    let done = resealed.get(&old_id).cloned();
                    let new_ref = match done {
                        Some((r, e0, k0)) if e0 >= exp && k0 >= keep.copies => r,
                        other => {
                            let (e1, k1) = other.map_or((exp, keep.copies), |(_, e0, k0)| {
                                (e0.max(exp), k0.max(keep.copies))
                            });
                            let r = reseal(src.as_ref(), &sink, new, c, &Terms::new(new, e1, k1))?;
                            resealed.insert(old_id, (r.clone(), e1, k1));
                            r
                        }
                    };
                    *c = new_ref;
                    let k = old_manifest.entry(old_id).or_insert(0);
                    *k = (*k).max(keep.copies);
                }
            }
        }
        for id in root.pieces.iter().map(|p| p.id).chain([entry.id]) {
            let c = old_manifest.entry(id).or_insert(0);
            *c = (*c).max(widest.copies);
        }
        let cipher = Header::decode(&src.get(&entry.id).map_err(LoadError::from)?)
            .map_err(|e| OpError::Swarm(format!("backup {}: {e}", entry.id)))?
            .cipher;
        let nonce = root_nonce(new, &entry.id);
        let sealed = manifest::seal_manifest(&m, new, cipher, nonce).map_err(|source| {
            LoadError::Manifest {
                id: entry.id,
                source,
            }
        })?;
        let terms = Terms::new(new, entry.info.expires_at, widest.copies);
        for p in &sealed.pieces {
            sink.put(p, &terms, false).map_err(sink_err)?;
        }
        sink.put(&sealed.root, &terms, true).map_err(sink_err)?;
        let mut moved_entry = entry.clone();
        moved_entry.id = sealed.root.id();
        report.backups.push(MovedBackup {
            old_id: entry.id,
            new_id: moved_entry.id,
            name: entry.info.name.clone(),
            expires_at: entry.info.expires_at,
        });
        moved.push((entry.id, moved_entry));
        crate::fault::point("rotate");
    }
    report.data_shards = chunks.len() + resealed.len();
    report.reencrypted = resealed.len();

    // Step 3: the data shards' leases.
    let mut holders: BTreeMap<String, HolderRow> = BTreeMap::new();
    let mut taken: BTreeSet<ShardId> = BTreeSet::new();
    let mut terms: HashMap<(u64, u8), Terms> = HashMap::new();
    let moves: Vec<(ShardId, u8, Request, Release)> = chunks
        .iter()
        .map(|(id, (exp, copies))| {
            let t = terms
                .entry((*exp, *copies))
                .or_insert_with(|| Terms::new(new, *exp, *copies));
            (
                *id,
                *copies,
                Request::Renew {
                    id: *id,
                    lease: t.lease(id),
                },
                release_all(old, id, now),
            )
        })
        .collect();
    report.leases_moved += exchange(ctx, net, &moves, &mut holders, &mut taken)?;
    crate::fault::point("rotate");
    let lost: Vec<&ShardId> = chunks.keys().filter(|id| !taken.contains(id)).collect();
    report.holders = holders.into_values().collect();
    if !lost.is_empty() {
        return Err(OpError::Swarm(format!(
            "{} of {} data shards (first {}) got no lease under the new key: their holders did not answer. Nothing was revoked and the old key is still installed; run `shardnet keys rotate` again when they are back (it resumes with the same new key)",
            lost.len(),
            chunks.len(),
            lost[0]
        )));
    }

    // Step 4: the old manifests go; the new key's catalogue is published.
    let releases: Vec<(ShardId, u8, Request, Release)> = old_manifest
        .iter()
        .map(|(id, copies)| {
            let r = release_all(old, id, now);
            let req = Request::Release {
                id: *id,
                release: Box::new(r),
                replacement: None,
            };
            (*id, *copies, req, r)
        })
        .collect();
    report.old_manifest_shards = releases.len();
    ctx.store.rotate_backups(&moved)?;
    match crate::catalogue::maintain_catalogue(net, ctx.store, new).map_err(OpError::Swarm)? {
        crate::catalogue::CatalogueUpkeep::NoQuorum { answered, asked } => {
            return Err(OpError::Swarm(format!(
                "only {answered} of the {asked} holders of the new key's catalogue answered, so it was not published; the old key stays installed. Run `shardnet keys rotate` again when more peers are up"
            )))
        }
        other => info!("new catalogue: {other:?}"),
    }
    crate::fault::point("rotate");
    let mut ignored = BTreeMap::new();
    exchange(ctx, net, &releases, &mut ignored, &mut BTreeSet::new())?;

    // Step 5.
    let revocation = Revocation {
        successor: new.owner_id(),
        revoked_at: now,
    };
    report.revocation_confirmed = crate::catalogue::revoke(net, ctx.store, old, &revocation)
        .map_err(|e| OpError::Swarm(format!("publishing the old key's revocation: {e}; the old key stays installed, run `shardnet keys rotate` again")))?;
    crate::fault::point("rotate");
    Ok(())
}

/// Fetches data shard `c`, opens it with its old key and seals the same
/// plaintext under `new`'s convergence key; stores it under `terms` and
/// records it in the new key's dedup index.
fn reseal(
    src: &dyn crate::shards::ShardSource,
    sink: &SwarmSink<'_>,
    new: &MasterKey,
    c: &ChunkRef,
    terms: &Terms,
) -> Result<ChunkRef, OpError> {
    let fail = |e: String| {
        OpError::Swarm(format!(
            "re-encrypting shard {}: {e}; nothing was revoked, run `shardnet keys rotate --reencrypt` again",
            c.id
        ))
    };
    let bytes = src.get(&c.id).map_err(|e| fail(e.to_string()))?;
    let cipher = Header::decode(&bytes)
        .map_err(|e| fail(e.to_string()))?
        .cipher;
    let plain = envelope::open(&bytes, &c.key).map_err(|e| fail(e.to_string()))?;
    if plain.len() != c.len as usize {
        return Err(fail(format!(
            "{} bytes where the manifest says {}",
            plain.len(),
            c.len
        )));
    }
    let key = new.convergence_key().key_for(&plain);
    let sealed = envelope::seal(&plain, &key, cipher, NonceMode::Convergent)
        .map_err(|e| fail(e.to_string()))?;
    sink.put(&sealed, terms, false).map_err(sink_err)?;
    sink.remember(
        &crate::backup::index_key(&key),
        &sealed.id(),
        sealed.bytes().len() as u32,
    )
    .map_err(sink_err)?;
    Ok(ChunkRef {
        id: sealed.id(),
        key,
        len: c.len,
    })
}

fn sink_err(e: crate::shards::SinkError) -> OpError {
    OpError::Swarm(format!(
        "storing a re-sealed manifest: {e}; nothing was revoked, run `shardnet keys rotate` again"
    ))
}

/// The root nonce of the re-sealed manifest of `old_root`: fixed for the new
/// key, so a second run seals the same root (same plaintext, same nonce).
fn root_nonce(new: &MasterKey, old_root: &BackupId) -> [u8; 12] {
    let mut msg = b"shardnet key rotation root nonce v1".to_vec();
    msg.extend_from_slice(&old_root.0);
    let h = blake3::keyed_hash(&new.manifest_key().0, &msg);
    let mut n = [0u8; 12];
    n.copy_from_slice(&h.as_bytes()[..12]);
    n
}

/// The old key's release of every lease it could have signed on `id`.
fn release_all(old: &MasterKey, id: &ShardId, now: u64) -> Release {
    Terms::new(old, now.saturating_add(MAX_TERM_SECS), 1).release(id, now)
}

/// Sends each `(shard, copies, request, release)`: `request` to the local
/// copy and to the shard's responsible peers (with the spill margin), and
/// where it was a renewal that took, `release` after it. Returns the number
/// of (shard, holder) pairs where both went through; `taken` gets the
/// shards the request took somewhere.
fn exchange(
    ctx: &Ctx<'_>,
    net: &Net,
    items: &[(ShardId, u8, Request, Release)],
    holders: &mut BTreeMap<String, HolderRow>,
    taken: &mut BTreeSet<ShardId>,
) -> Result<usize, OpError> {
    let local = net.client.local_peer_id();
    let mut done = 0;
    for (id, _, req, rel) in items {
        if let Request::Renew { lease, .. } = req {
            if !ctx.store.add_lease(id, *lease)? {
                continue;
            }
            taken.insert(*id);
            done += 1;
            row(holders, local).released += 1;
        }
        if let Some(size) = ctx.store.release_lease(id, rel, None)? {
            net.usage.release(&rel.owner, size);
        }
    }
    let candidates = net.view.candidates();
    let sends: Vec<(ShardId, PeerId, Request, Release)> = items
        .iter()
        .flat_map(|(id, copies, req, rel)| {
            placement::responsible_set(id, 0, &candidates, *copies as usize + repair::SPILL)
                .into_iter()
                .filter(|p| *p != local)
                .map(move |p| (*id, p, req.clone(), *rel))
        })
        .collect();
    let answers: Vec<(ShardId, PeerId, Result<bool, String>)> = net.handle.block_on(
        futures::stream::iter(sends)
            .map(|(id, peer, req, rel)| {
                let client = net.client.clone();
                async move {
                    let renewal = matches!(req, Request::Renew { .. });
                    let a = match crate::net::ask(&client, peer, req).await {
                        Ok(Response::Renewed) if renewal => {
                            let release = Request::Release {
                                id,
                                release: Box::new(rel),
                                replacement: None,
                            };
                            // The new lease is in: the old one's fate no
                            // longer decides the copy's.
                            if let Err(e) = crate::net::ask(&client, peer, release).await {
                                warn!(%peer, shard = %id, "old lease not released: {e}");
                            }
                            Ok(true)
                        }
                        Ok(Response::Released(dropped)) => Ok(dropped),
                        Ok(Response::NotFound) => Ok(false),
                        Ok(other) => Err(format!("unexpected answer {other:?}")),
                        Err(e) => Err(e),
                    };
                    (id, peer, a)
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect(),
    );
    for (id, peer, a) in answers {
        let r = row(holders, peer);
        match a {
            Ok(true) => {
                r.released += 1;
                taken.insert(id);
                done += 1;
            }
            Ok(false) => r.not_held += 1,
            Err(e) => {
                warn!(%peer, shard = %id, "key rotation: {e}");
                r.failed += 1;
            }
        }
    }
    holders.retain(|_, r| r.released + r.failed > 0);
    Ok(done)
}

fn row(holders: &mut BTreeMap<String, HolderRow>, peer: PeerId) -> &mut HolderRow {
    holders
        .entry(peer.to_string())
        .or_insert_with(|| HolderRow::new(peer.to_string()))
}
