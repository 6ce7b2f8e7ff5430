//! Step 2 of a rotation: every live backup's manifest re-sealed under the new key
//! (with a nonce derived from the new key and the old root, so a rerun writes the
//! same shards), and its data shards moved to the new key's leases.

use super::leases::{exchange, release_all};
use super::{MovedBackup, RotateReport};
use crate::distribute::{Net, SwarmSink};
use crate::manifests::{self, LoadError};
use crate::ops::delete::HolderRow;
use crate::ops::{Ctx, OpError};
use crate::shards::{Put, Role, ShardSink};
use shardnet_protocol::catalogue::{CatalogueEntry, Revocation};
use shardnet_protocol::envelope::{self, Header, NonceMode};
use shardnet_protocol::lease::Release;
use shardnet_protocol::lifecycle::Keep;
use shardnet_protocol::manifest::{self, ChunkRef, EntryKind, ManifestError, StripeRef};
use shardnet_protocol::redundancy::Scheme;
use shardnet_protocol::wire::Request;
use shardnet_protocol::{BackupId, MasterKey, ShardId, Terms};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::info;

/// Steps 2 to 5 of the rotation (module docs).
pub(super) fn move_backups(
    ctx: &Ctx<'_>,
    net: &Net,
    new: &MasterKey,
    now: u64,
    reencrypt: bool,
    report: &mut RotateReport,
) -> Result<(), OpError> {
    let old = &ctx.master;
    // --reencrypt: old data shard → (its new ref and pieces, the expiry and
    // copies it was stored under).
    let mut resealed: HashMap<ShardId, (Resealed, u64, u8)> = HashMap::new();
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
    // Data shard or piece → (expiry, copies, peers to ask): the widest any
    // live backup wants. A piece is one copy, but may sit past closer
    // peers that hold its siblings: all of those are asked.
    let mut chunks: BTreeMap<ShardId, (u64, u8, u8)> = BTreeMap::new();
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
        let old_stripes: HashMap<ShardId, StripeRef> =
            m.stripes.iter().map(|s| (s.shard, s.clone())).collect();
        let mut new_stripes: Vec<StripeRef> = Vec::new();
        for e in &mut m.entries {
            let keep = rules
                .keep_for(&String::from_utf8_lossy(&e.path), tier)
                .widest(tier);
            if let EntryKind::File { chunks: refs, .. } = &mut e.kind {
                widest = widest.widest(keep);
                for c in refs.iter_mut() {
                    let stripe = old_stripes.get(&c.id);
                    if !reencrypt {
                        // The stored ids: the shard, or its pieces (one
                        // copy each).
                        let (ids, copies, ask) = match stripe {
                            Some(s) => (s.pieces.clone(), 1, s.pieces.len() as u8),
                            None => (vec![c.id], keep.copies, keep.copies),
                        };
                        for id in ids {
                            let t = chunks.entry(id).or_insert((0, 0, 0));
                            *t = (t.0.max(exp), t.1.max(copies), t.2.max(ask));
                        }
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
                            let r = reseal(
                                src.as_ref(),
                                &sink,
                                new,
                                (c, stripe),
                                &Terms::new(new, e1, k1),
                            )?;
                            resealed.insert(old_id, (r.clone(), e1, k1));
                            r
                        }
                    };
                    *c = new_ref.chunk;
                    new_stripes.extend(new_ref.stripe);
                    // The old shard, or its pieces (asked past their
                    // siblings' holders), is released with the old manifest.
                    let (olds, width) = match stripe {
                        Some(s) => (s.pieces.clone(), s.pieces.len() as u8),
                        None => (vec![old_id], keep.copies),
                    };
                    for old in olds {
                        let k = old_manifest.entry(old).or_insert(0);
                        *k = (*k).max(width);
                    }
                }
            }
        }
        if reencrypt {
            m.stripes = new_stripes;
            m.tidy_stripes();
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
            sink.put(p, &terms, Role::Manifest).map_err(sink_err)?;
        }
        sink.put(&sealed.root, &terms, Role::Root)
            .map_err(sink_err)?;
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
        .map(|(id, (exp, copies, ask))| {
            let t = terms
                .entry((*exp, *copies))
                .or_insert_with(|| Terms::new(new, *exp, *copies));
            (
                *id,
                *ask,
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
        // A record only this node (or a minority) keeps would be lost with
        // this machine once the old key is revoked: `--yes` or not, the
        // revocation waits for a majority of the slot.
        crate::catalogue::CatalogueUpkeep::Published {
            confirmed, holders, ..
        } if confirmed * 2 <= holders => {
            return Err(OpError::Swarm(format!(
                "only {confirmed} of the {holders} holders of the new key's catalogue confirmed its record; the old key stays installed. Run `shardnet keys rotate` again when more peers are up"
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

/// A data shard sealed again under the new key.
#[derive(Clone)]
pub(super) struct Resealed {
    chunk: ChunkRef,
    stripe: Option<StripeRef>,
}

/// Fetches data shard `c` (from its pieces when it has a stripe), opens it
/// with its old key and seals the same plaintext under `new`'s convergence
/// key; stores it under `terms` as it was stored (copies, or the same
/// scheme's pieces) and records it in the new key's dedup index.
pub(super) fn reseal(
    src: &dyn crate::shards::ShardSource,
    sink: &SwarmSink<'_>,
    new: &MasterKey,
    (c, stripe): (&ChunkRef, Option<&StripeRef>),
    terms: &Terms,
) -> Result<Resealed, OpError> {
    let fail = |e: String| {
        OpError::Swarm(format!(
            "re-encrypting shard {}: {e}; nothing was revoked, run `shardnet keys rotate --reencrypt` again",
            c.id
        ))
    };
    let bytes = match stripe {
        Some(s) => crate::pieces::from_pieces(src, s),
        None => src.get(&c.id),
    }
    .map_err(|e| fail(e.to_string()))?;
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
    let scheme = match stripe {
        Some(s) => s.scheme(),
        None => Scheme::Replicate {
            copies: terms.copies,
        },
    };
    let put: Put = sink
        .put_as(&sealed, terms, scheme, false)
        .map_err(sink_err)?;
    sink.remember(&crate::backup::index_key(&key), &sealed.id(), &put)
        .map_err(sink_err)?;
    Ok(Resealed {
        chunk: ChunkRef {
            id: sealed.id(),
            key,
            len: c.len,
        },
        stripe: put.stripe,
    })
}

pub(super) fn sink_err(e: crate::shards::SinkError) -> OpError {
    OpError::Swarm(format!(
        "storing a re-sealed manifest: {e}; nothing was revoked, run `shardnet keys rotate` again"
    ))
}

/// The root nonce of the re-sealed manifest of `old_root`: fixed for the new
/// key, so a second run seals the same root (same plaintext, same nonce).
pub(super) fn root_nonce(new: &MasterKey, old_root: &BackupId) -> [u8; 12] {
    let mut msg = b"shardnet key rotation root nonce v1".to_vec();
    msg.extend_from_slice(&old_root.0);
    let h = blake3::keyed_hash(&new.manifest_key().0, &msg);
    let mut n = [0u8; 12];
    n.copy_from_slice(&h.as_bytes()[..12]);
    n
}
