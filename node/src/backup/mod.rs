//! Backup creation (into the local store or the swarm, through a
//! [`ShardSink`]): walk the sources, chunk every file with
//! FastCDC, seal each chunk under its convergent key, store it with the owner's
//! lease (unchanged chunks hit the dedup index and are neither sealed nor stored
//! again), then seal the manifest, make everything durable and only then add the
//! backup to the catalogue. A crash before the catalogue write leaves stored
//! shards with leases (reclaimed by pruning later) and no half backup.

mod chunks;
mod walk;

use crate::shards::{Role, ShardSink, SinkError};
use chunks::{Chunk, ChunkStream, Work};
use rand::RngCore;
use rayon::prelude::*;
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::envelope::{self, NonceMode};
use shardnet_protocol::lifecycle::{Keep, Rules};
use shardnet_protocol::manifest::{self, BackupInfo, ChunkRef, EntryKind, Manifest, StripeRef};
use shardnet_protocol::{BackupId, Cipher, MasterKey, Sealed, ShardId, Terms, Tier};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Sources(String),
    #[error("nothing to back up: every source was unreadable")]
    Empty,
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("sealing a shard: {0}")]
    Envelope(#[from] shardnet_protocol::EnvelopeError),
    #[error("sealing the manifest: {0}")]
    Manifest(#[from] manifest::ManifestError),
}

#[derive(Clone, Debug)]
pub struct BackupOptions {
    pub name: String,
    pub tier: Tier,
    pub cipher: Cipher,
    /// Unix seconds used as the creation time.
    pub now: u64,
    /// Show a progress bar on stderr (when it is a terminal).
    /// Progress is reported to this bar (a terminal bar, or the daemon's shared
    /// one that the CLI polls); `None` reports nothing.
    pub progress: Option<indicatif::ProgressBar>,
    /// Directories never backed up (the node's own data dir: a live database
    /// cannot be copied consistently and would back itself up).
    pub exclude: Vec<PathBuf>,
    /// Lifecycle rules: files they match get their terms, not the tier's.
    pub rules: Rules,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BackupReport {
    pub entry: CatalogueEntry,
    /// Sources or files that could not be read: (path, reason).
    pub skipped: Vec<(PathBuf, String)>,
    /// Things the user should know (e.g. fewer copies than the tier wants).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Result of sealing and storing one chunk.
struct Stored {
    file: usize,
    index: usize,
    chunk: ChunkRef,
    size: u64,
    new: bool,
    /// Its pieces, when the sink cut it into pieces.
    stripe: Option<StripeRef>,
}

/// Key of the dedup index: a hash of the chunk key, so the index never holds keys.
pub(crate) fn index_key(key: &shardnet_protocol::ShardKey) -> [u8; 32] {
    *blake3::keyed_hash(&key.0, b"shardnet dedup index v1").as_bytes()
}

fn store_chunk(
    sink: &dyn ShardSink,
    master_conv: &shardnet_protocol::keys::ConvergenceKey,
    cipher: Cipher,
    terms: &Terms,
    c: Chunk,
) -> Result<Stored, BackupError> {
    let key = master_conv.key_for(c.plain());
    let ik = index_key(&key);
    let len = c.plain().len() as u32;
    if let Some(r) = sink.reuse(&ik, terms)? {
        return Ok(Stored {
            file: c.file,
            index: c.index,
            chunk: ChunkRef { id: r.id, key, len },
            size: r.size,
            new: false,
            stripe: r.stripe,
        });
    }
    let sealed = envelope::seal_in_place(c.data, &key, cipher, NonceMode::Convergent)?;
    let put = sink.put(&sealed, terms, Role::Data)?;
    sink.remember(&ik, &sealed.id(), &put)?;
    Ok(Stored {
        file: c.file,
        index: c.index,
        chunk: ChunkRef {
            id: sealed.id(),
            key,
            len,
        },
        size: put.size,
        new: put.new,
        stripe: put.stripe,
    })
}

/// Backs up `sources` into `sink` for the owner of `master`.
pub fn create(
    sink: &dyn ShardSink,
    master: &MasterKey,
    sources: &[PathBuf],
    opts: &BackupOptions,
) -> Result<BackupReport, BackupError> {
    let exclude: Vec<PathBuf> = opts
        .exclude
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut walked = walk::walk(sources, &exclude).map_err(BackupError::Sources)?;
    if walked.entries.is_empty() && walked.files.is_empty() {
        return Err(BackupError::Empty);
    }
    // Each file's terms (lifecycle rules, else the tier); the manifest's are
    // the widest of them: restoring any file needs it.
    let default = Keep::of(opts.tier);
    let keeps: Vec<Keep> = walked
        .files
        .iter()
        .map(|f| {
            opts.rules
                .keep_for(&String::from_utf8_lossy(&f.entry.path), default)
        })
        .collect();
    let widest = keeps.iter().copied().fold(default, Keep::widest);
    let mut signed: HashMap<Keep, Terms> = HashMap::new();
    for k in keeps.iter().copied().chain([widest]) {
        signed
            .entry(k)
            .or_insert_with(|| Terms::new(master, k.expires_at(opts.now), k.copies));
    }
    let file_terms: Vec<&Terms> = keeps.iter().map(|k| &signed[k]).collect();
    let terms = &signed[&widest];
    let expires_at = terms.expires_at;
    let conv = master.convergence_key();
    let total: u64 = walked
        .files
        .iter()
        .map(|f| match f.entry.kind {
            EntryKind::File { size, .. } => size,
            _ => 0,
        })
        .sum();
    let bar = opts
        .progress
        .clone()
        .unwrap_or_else(indicatif::ProgressBar::hidden);
    bar.set_length(total);
    bar.set_position(0);

    let errors = Mutex::new(HashMap::new());
    let threads = rayon::current_num_threads();
    let results: Vec<Stored> = ChunkStream::new(&walked.files, &errors, threads)
        .par_bridge()
        .filter_map(|work| match work {
            Work::Scan(scan) => {
                scan.run();
                None
            }
            Work::Cut(cut) => {
                let n = cut.len();
                let c = cut.chunk();
                let r = store_chunk(sink, &conv, opts.cipher, file_terms[c.file], c);
                bar.inc(n);
                Some(r)
            }
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();

    // Assemble the file entries, dropping files that failed part-way.
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut per_file: Vec<Vec<(usize, ChunkRef)>> =
        walked.files.iter().map(|_| Vec::new()).collect();
    let mut sizes: HashMap<ShardId, u64> = HashMap::new();
    let mut new_ids: HashSet<ShardId> = HashSet::new();
    let mut stripes: Vec<StripeRef> = Vec::new();
    for mut s in results {
        stripes.extend(s.stripe.take());
        sizes.insert(s.chunk.id, s.size);
        if s.new {
            new_ids.insert(s.chunk.id);
        }
        per_file[s.file].push((s.index, s.chunk));
    }
    let mut entries = std::mem::take(&mut walked.entries);
    let mut info = BackupInfo {
        name: opts.name.clone(),
        tier: opts.tier,
        created_at: opts.now,
        expires_at,
        sources: sources.iter().map(|p| p.display().to_string()).collect(),
        files: 0,
        dirs: entries.iter().filter(|e| e.kind == EntryKind::Dir).count() as u64,
        symlinks: entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Symlink { .. }))
            .count() as u64,
        bytes: 0,
        chunks: 0,
    };
    for (i, (job, mut chunks)) in walked.files.into_iter().zip(per_file).enumerate() {
        if let Some(reason) = errors.get(&i) {
            walked.skipped.push((job.source, reason.clone()));
            continue;
        }
        chunks.sort_by_key(|(idx, _)| *idx);
        let chunks: Vec<ChunkRef> = chunks.into_iter().map(|(_, c)| c).collect();
        let size: u64 = chunks.iter().map(|c| c.len as u64).sum();
        info.files += 1;
        info.bytes += size;
        info.chunks += chunks.len() as u64;
        let mut entry = job.entry;
        entry.kind = EntryKind::File { size, chunks };
        entries.push(entry);
    }
    // Parents before children, so a restore creates directories first.
    entries.sort_by(|a, b| a.path.cmp(&b.path));

    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut m = Manifest {
        info: info.clone(),
        entries,
        stripes,
    };
    // Only the stripes of files kept, sorted for lookups.
    m.tidy_stripes();
    let sealed = manifest::seal_manifest(&m, master, opts.cipher, nonce)?;
    let mut put = |s: &Sealed, role: Role| -> Result<(), BackupError> {
        let put = sink.put(s, terms, role)?;
        sizes.insert(s.id(), put.size);
        if put.new {
            new_ids.insert(s.id());
        }
        Ok(())
    };
    for p in &sealed.pieces {
        put(p, Role::Manifest)?;
    }
    put(&sealed.root, Role::Root)?;
    let id: BackupId = sealed.root.id();
    let entry = CatalogueEntry {
        id,
        info,
        shards: sizes.len() as u64,
        stored_bytes: sizes.values().sum(),
        new_shards: new_ids.len() as u64,
        new_bytes: new_ids
            .iter()
            .map(|i| sizes.get(i).copied().unwrap_or(0))
            .sum(),
    };
    sink.commit(&entry)?;
    Ok(BackupReport {
        entry,
        skipped: walked.skipped,
        warnings: Vec::new(),
    })
}
