//! `backup verify`: are all shards of a backup present and healthy? The quick
//! check counts the copies of each shard proven just now (the local healthy
//! copy, and peers' sampled Bao proofs, `protocol::sample`): it needs only
//! the owner key, and reads 2 KiB per copy; `--full` re-reads every distinct shard (the store
//! re-hashes it and marks a mismatch corrupted), decrypts it and checks that the
//! plaintext still derives the key the manifest holds.

use crate::manifests::{self, LoadError};
use crate::shards::ShardSource;
use rayon::prelude::*;
use shardnet_protocol::envelope;
use shardnet_protocol::manifest::{ChunkRef, EntryKind};
use shardnet_protocol::{BackupId, MasterKey, ShardId};
use std::collections::HashMap;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    pub shard: ShardId,
    pub reason: String,
    /// Files (or "manifest") that need this shard.
    pub used_by: Vec<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct VerifyReport {
    pub backup: BackupId,
    pub full: bool,
    pub shards_checked: u64,
    pub bytes_checked: u64,
    pub problems: Vec<Problem>,
    /// Quick check: copies each data shard's tier wants.
    #[serde(default)]
    pub copies_wanted: usize,
    /// Quick check: (proven copies, shards with that many), fewest first.
    #[serde(default)]
    pub proven_copies: Vec<(usize, u64)>,
}

/// Answers the quick check for a batch of shards (id, size estimate), in
/// order: how many copies were proven just now (the local store's healthy
/// copy, peers' sampled proofs), or why none was.
pub type Presence<'a> = &'a (dyn Fn(&[(ShardId, u64)]) -> Vec<Result<usize, String>> + Sync);

/// The quick check asks `present` once for every shard; the full check reads
/// every shard through `src`.
pub fn verify(
    src: &dyn ShardSource,
    present: Presence<'_>,
    master: &MasterKey,
    id: &BackupId,
    full: bool,
) -> Result<VerifyReport, LoadError> {
    let (root, manifest) = manifests::load(src, master, id)?;
    let conv = master.convergence_key();
    let mut users: HashMap<ShardId, (ChunkRef, Vec<String>)> = HashMap::new();
    for e in &manifest.entries {
        if let EntryKind::File { chunks, .. } = &e.kind {
            for c in chunks {
                let u = users.entry(c.id).or_insert_with(|| (c.clone(), Vec::new()));
                if u.1.len() < 5 {
                    u.1.push(String::from_utf8_lossy(&e.path).into_owned());
                }
            }
        }
    }
    let list: Vec<(&ChunkRef, &Vec<String>)> = users.values().map(|(c, u)| (c, u)).collect();
    let quick: HashMap<ShardId, Result<usize, String>> = if full {
        HashMap::new()
    } else {
        // The sealed size is about the plaintext's (less when compressed;
        // a sample past the end proves the final chunk).
        let ids: Vec<(ShardId, u64)> = list.iter().map(|(c, _)| (c.id, c.len as u64)).collect();
        let answers = present(&ids);
        ids.into_iter().map(|(id, _)| id).zip(answers).collect()
    };
    let mut histogram: std::collections::BTreeMap<usize, u64> = Default::default();
    for r in quick.values() {
        *histogram.entry(*r.as_ref().unwrap_or(&0)).or_default() += 1;
    }
    let check = |c: &ChunkRef| -> Result<u64, String> {
        if !full {
            return match quick.get(&c.id) {
                Some(Ok(_)) => Ok(0),
                Some(Err(e)) => Err(e.clone()),
                None => Err("not checked".into()),
            };
        }
        let bytes = src.get(&c.id).map_err(|e| e.to_string())?;
        let plain = envelope::open(&bytes, &c.key).map_err(|e| e.to_string())?;
        if conv.key_for(&plain) != c.key {
            return Err("plaintext does not match its key".into());
        }
        Ok(bytes.len() as u64)
    };
    let results: Vec<(ShardId, Vec<String>, Result<u64, String>)> = list
        .par_iter()
        .map(|(c, u)| (c.id, (*u).clone(), check(c)))
        .collect();
    let mut report = VerifyReport {
        backup: *id,
        full,
        // Root and manifest pieces were read and checked by `load`.
        shards_checked: 1 + root.pieces.len() as u64,
        bytes_checked: 0,
        problems: Vec::new(),
        copies_wanted: root.info.tier.copies() as usize,
        proven_copies: histogram.into_iter().collect(),
    };
    for (shard, used_by, r) in results {
        report.shards_checked += 1;
        match r {
            Ok(n) => report.bytes_checked += n,
            Err(reason) => report.problems.push(Problem {
                shard,
                reason,
                used_by,
            }),
        }
    }
    report.problems.sort_by_key(|p| p.shard);
    Ok(report)
}
