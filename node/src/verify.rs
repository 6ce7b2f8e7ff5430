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
use shardnet_protocol::manifest::{ChunkRef, EntryKind, Stored};
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
    /// Quick check of the chunks kept as pieces: (proven pieces, chunks
    /// with that many), fewest first; any `k` restore a chunk.
    #[serde(default)]
    pub proven_pieces: Vec<(usize, u64)>,
    /// Quick check: chunks kept as pieces with fewer than `k` proven.
    #[serde(default)]
    pub pieces_short: u64,
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
    let (quick, histogram, pieces) = if full {
        Default::default()
    } else {
        quick_check(present, &manifest, &list)
    };
    let striped = crate::pieces::Striped::new(src, &manifest);
    let src: &dyn ShardSource = &striped;
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
        proven_pieces: pieces.into_iter().collect(),
        pieces_short: 0,
    };
    for (shard, used_by, r) in results {
        report.shards_checked += 1;
        if !full && r.is_err() && matches!(manifest.stored(&shard), Stored::Pieces(_)) {
            report.pieces_short += 1;
        }
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

type Histogram = std::collections::BTreeMap<usize, u64>;

/// The quick check's answer per chunk, with the histograms of proven
/// copies (chunks kept as copies) and proven pieces (chunks kept as
/// pieces: enough when `k` are).
fn quick_check(
    present: Presence<'_>,
    manifest: &shardnet_protocol::manifest::Manifest,
    list: &[(&ChunkRef, &Vec<String>)],
) -> (
    HashMap<ShardId, Result<usize, String>>,
    Histogram,
    Histogram,
) {
    // The sealed size is about the plaintext's (less when compressed; a
    // sample past the end proves the final chunk); a piece's, a `k`th of it.
    let mut ids: Vec<(ShardId, u64)> = Vec::new();
    for (c, _) in list {
        match manifest.stored(&c.id) {
            Stored::Copies(id) => ids.push((id, c.len as u64)),
            Stored::Pieces(s) => ids.extend(
                s.pieces
                    .iter()
                    .map(|p| (*p, (c.len as u64).div_ceil(s.data as u64))),
            ),
        }
    }
    let answers: HashMap<ShardId, Result<usize, String>> =
        ids.iter().map(|(id, _)| *id).zip(present(&ids)).collect();
    let (mut copies, mut pieces) = (Histogram::new(), Histogram::new());
    let mut out = HashMap::new();
    for (c, _) in list {
        let r = match manifest.stored(&c.id) {
            Stored::Copies(id) => {
                let r = answers
                    .get(&id)
                    .cloned()
                    .unwrap_or(Err("not checked".into()));
                *copies.entry(*r.as_ref().unwrap_or(&0)).or_default() += 1;
                r
            }
            Stored::Pieces(s) => {
                let proven = s
                    .pieces
                    .iter()
                    .filter(|p| matches!(answers.get(p), Some(Ok(n)) if *n > 0))
                    .count();
                *pieces.entry(proven).or_default() += 1;
                if proven >= s.data as usize {
                    Ok(proven)
                } else {
                    Err(format!(
                        "only {proven} of its {} pieces proven, {} needed",
                        s.pieces.len(),
                        s.data
                    ))
                }
            }
        };
        out.insert(c.id, r);
    }
    (out, copies, pieces)
}
