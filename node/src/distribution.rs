//! `distribution status`: copies of every shard of the owner's live backups
//! across the swarm, each proven just now (this node's healthy copy, peers'
//! sampled Bao proofs: `distribute::proven_holders`), summarised by
//! `protocol::distribution`. Every shard counts: data, manifest pieces and
//! the root; a chunk kept as pieces counts each piece, wanted once. A data
//! shard wants the copies the lifecycle rules in force give
//! its file (else the backup's tier); the manifest, the widest of them.

use crate::ops::{Ctx, OpError};
use libp2p::PeerId;
use shardnet_protocol::distribution::{summarise, Distribution, Holder, ShardCopies};
use shardnet_protocol::lifecycle::Keep;
use shardnet_protocol::manifest::{EntryKind, Stored};
use shardnet_protocol::ShardId;
use std::collections::HashMap;

/// Shards proven per round (bounded memory and requests in flight).
const BATCH: usize = 4096;

pub fn status(ctx: &Ctx<'_>) -> Result<Distribution, OpError> {
    let net = ctx.net.ok_or_else(|| {
        OpError::Swarm("distribution status asks the swarm: start the node first".into())
    })?;
    let rules = crate::config::lifecycle_rules(&ctx.data_dir)
        .map_err(|e| OpError::Swarm(format!("{e}; fix the lifecycle rules first")))?;
    let src = ctx.source();
    // (shard, size estimate, backup, copies wanted)
    let mut wanted: Vec<(ShardId, u64, ShardId, usize)> = Vec::new();
    for e in crate::ops::backup_list(ctx, false)? {
        let (root, manifest) = crate::manifests::load(src.as_ref(), &ctx.master, &e.id)?;
        let default = Keep::of(root.info.tier);
        let mut widest = default;
        for entry in &manifest.entries {
            if let EntryKind::File { chunks, .. } = &entry.kind {
                let keep = rules.keep_for(&String::from_utf8_lossy(&entry.path), default);
                widest = widest.widest(keep);
                for c in chunks {
                    match manifest.stored(&c.id) {
                        Stored::Copies(id) => {
                            wanted.push((id, c.len as u64, e.id, keep.copies as usize))
                        }
                        // Each piece is one copy of its own.
                        Stored::Pieces(s) => wanted.extend(s.pieces.iter().map(|p| {
                            let bytes = (c.len as u64).div_ceil(s.data as u64);
                            (*p, bytes, e.id, 1)
                        })),
                    }
                }
            }
        }
        let copies = widest.copies as usize;
        wanted.push((e.id, 4096, e.id, copies));
        for p in &root.pieces {
            wanted.push((p.id, p.len as u64, e.id, copies));
        }
    }
    // Ask once per distinct shard.
    let mut distinct: Vec<(ShardId, u64)> = wanted.iter().map(|(s, n, _, _)| (*s, *n)).collect();
    distinct.sort_unstable_by_key(|(s, _)| *s);
    distinct.dedup_by_key(|(s, _)| *s);
    let local = net.client.local_peer_id();
    let zones: HashMap<String, String> = net
        .view
        .list()
        .into_iter()
        .map(|p| (p.peer_id, p.heartbeat.zone))
        .collect();
    let holder = |p: Option<PeerId>| {
        let peer = p.unwrap_or(local).to_string();
        Holder {
            zone: zones.get(&peer).cloned().unwrap_or_else(|| "?".into()),
            peer,
        }
    };
    let mut proven: HashMap<ShardId, Vec<Holder>> = HashMap::with_capacity(distinct.len());
    for batch in distinct.chunks(BATCH) {
        let answers = crate::distribute::proven_holders(net, ctx.store, batch);
        for ((id, _), a) in batch.iter().zip(answers) {
            let hs = a.unwrap_or_default().into_iter().map(holder).collect();
            proven.insert(*id, hs);
        }
    }
    let list: Vec<ShardCopies> = wanted
        .into_iter()
        .map(|(id, bytes, backup, copies)| ShardCopies {
            shard: id.to_string(),
            backup: backup.to_string(),
            bytes,
            wanted: copies,
            holders: proven.get(&id).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(summarise(&list, &local.to_string()))
}
