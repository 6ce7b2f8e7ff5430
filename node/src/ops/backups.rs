//! The owner's backup operations: create, list, show, restore, delete, verify.

use super::{Ctx, OpError};
use crate::backup::{self, BackupOptions, BackupReport};
use crate::distribute::SwarmSink;
use crate::manifests::{self, LoadError};
use crate::restore::{self, RestoreError, RestoreReport};
use crate::shards::{Local, ShardSink};
use crate::verify::{self, VerifyReport};
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::manifest::{BackupInfo, EntryKind};
use shardnet_protocol::redundancy::Policy;
use shardnet_protocol::{BackupId, Cipher, ShardId, Tier};
use shardnet_store::ShardState;
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Absolute paths (the daemon's working directory is not the caller's).
    pub paths: Vec<PathBuf>,
    pub tier: Tier,
    pub name: String,
    pub cipher: Cipher,
    /// Copies or pieces for the file chunks; `None`: config.toml's.
    #[serde(default)]
    pub redundancy: Option<Policy>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub id: BackupId,
    pub dest: PathBuf,
    pub path: Option<String>,
    pub force: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryRow {
    pub path: String,
    pub kind: String,
    pub size: u64,
    pub mode: u32,
    pub mtime: i64,
    pub target: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShowReport {
    pub id: BackupId,
    pub info: BackupInfo,
    pub manifest_pieces: usize,
    pub catalogue: Option<CatalogueEntry>,
    pub entries: Vec<EntryRow>,
    /// Distinct chunks kept as erasure-coded pieces, per scheme
    /// (`rs K+M` → chunks); the others are whole copies.
    #[serde(default)]
    pub pieces: std::collections::BTreeMap<String, u64>,
}

pub fn backup_create(
    ctx: &Ctx<'_>,
    req: &CreateRequest,
    progress: Option<indicatif::ProgressBar>,
) -> Result<BackupReport, OpError> {
    let opts = BackupOptions {
        name: req.name.clone(),
        tier: req.tier,
        cipher: req.cipher,
        now: crate::output::now_unix(),
        progress,
        exclude: vec![ctx.data_dir.clone()],
        rules: crate::config::lifecycle_rules(&ctx.data_dir).map_err(|e| {
            OpError::Swarm(format!("{e}: fix the lifecycle rules, then back up again"))
        })?,
    };
    match ctx.net {
        Some(net) => {
            let policy = match req.redundancy {
                Some(p) => p,
                None => crate::config::redundancy(&ctx.data_dir).map_err(|e| {
                    OpError::Swarm(format!(
                        "{e}: fix `redundancy` in config.toml, then back up again"
                    ))
                })?,
            };
            let sink = SwarmSink::new(net, ctx.store, &ctx.master).with_policy(policy);
            // Transfers block on the network: more threads than cores keep
            // several shards in flight to every peer.
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(crate::distribute::TRANSFER_THREADS)
                .build()
                .map_err(|e| OpError::Swarm(e.to_string()))?;
            let mut report =
                pool.install(|| backup::create(&sink, &ctx.master, &req.paths, &opts))?;
            report.warnings = sink.warnings();
            crate::metrics::BACKUP_BYTES.fetch_add(
                report.entry.info.bytes,
                std::sync::atomic::Ordering::Relaxed,
            );
            Ok(report)
        }
        None => Ok(backup::create(
            &Local(ctx.store) as &dyn ShardSink,
            &ctx.master,
            &req.paths,
            &opts,
        )?),
    }
}

/// The owner's backups; those past their expiry (by this node's clock) only
/// with `all`.
pub fn backup_list(ctx: &Ctx<'_>, all: bool) -> Result<Vec<CatalogueEntry>, OpError> {
    let mut list = backup_list_all(ctx)?;
    let now = crate::output::now_unix();
    list.retain(|e| all || e.info.expires_at > now);
    Ok(list)
}

pub(super) fn backup_list_all(ctx: &Ctx<'_>) -> Result<Vec<CatalogueEntry>, OpError> {
    match ctx.net {
        Some(net) => {
            crate::catalogue::fetch_catalogue(net, ctx.store, &ctx.master).map_err(OpError::Swarm)
        }
        None => Ok(ctx.store.list_backups()?),
    }
}

pub fn backup_show(ctx: &Ctx<'_>, id: &BackupId, files: bool) -> Result<ShowReport, OpError> {
    let src = ctx.source();
    let (root, m) = manifests::load(src.as_ref(), &ctx.master, id).map_err(|e| explain(ctx, e))?;
    let catalogue = ctx.store.get_backup(id)?;
    let entries = if files {
        m.entries
            .iter()
            .map(|e| {
                let (kind, size, target) = match &e.kind {
                    EntryKind::Dir => ("dir", 0, None),
                    EntryKind::File { size, .. } => ("file", *size, None),
                    EntryKind::Symlink { target } => (
                        "symlink",
                        0,
                        Some(String::from_utf8_lossy(target).into_owned()),
                    ),
                };
                EntryRow {
                    path: String::from_utf8_lossy(&e.path).into_owned(),
                    kind: kind.into(),
                    size,
                    mode: e.mode,
                    mtime: e.mtime,
                    target,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut pieces = std::collections::BTreeMap::new();
    for st in &m.stripes {
        *pieces.entry(st.scheme().to_string()).or_insert(0) += 1;
    }
    Ok(ShowReport {
        id: *id,
        info: root.info,
        pieces,
        manifest_pieces: root.pieces.len(),
        catalogue,
        entries,
    })
}

pub fn backup_restore(
    ctx: &Ctx<'_>,
    req: &RestoreRequest,
    progress: Option<indicatif::ProgressBar>,
) -> Result<RestoreReport, OpError> {
    let src = ctx.source();
    restore::restore(
        src.as_ref(),
        &ctx.master,
        &req.id,
        &req.dest,
        req.path.as_deref(),
        req.force,
        progress,
    )
    .inspect(|r| {
        crate::metrics::RESTORE_BYTES.fetch_add(r.bytes, std::sync::atomic::Ordering::Relaxed);
    })
    .map_err(|e| match e {
        RestoreError::Load(l) => explain(ctx, l),
        other => other.into(),
    })
}

/// A backup whose root shard nobody served: unknown, or known to the
/// catalogue with its index holders unreachable (a different thing to fix).
pub(super) fn explain(ctx: &Ctx<'_>, e: LoadError) -> OpError {
    let LoadError::Unknown(id) = e else {
        return e.into();
    };
    let known = match ctx.store.get_backup(&id) {
        Ok(Some(entry)) => Some(entry),
        _ => backup_list_all(ctx)
            .ok()
            .and_then(|l| l.into_iter().find(|b| b.id == id)),
    };
    match known {
        Some(entry) => LoadError::Unreachable {
            id,
            name: entry.info.name,
        }
        .into(),
        None => LoadError::Unknown(id).into(),
    }
}

/// `backup delete`: see [`crate::delete`].
pub fn backup_delete(
    ctx: &Ctx<'_>,
    id: &BackupId,
) -> Result<crate::ops::delete::DeleteReport, OpError> {
    crate::ops::delete::delete(ctx, id)
}

pub fn backup_verify(ctx: &Ctx<'_>, id: &BackupId, full: bool) -> Result<VerifyReport, OpError> {
    let src = ctx.source();
    let store = ctx.store;
    let report = match ctx.net {
        Some(net) => {
            let present =
                |ids: &[(ShardId, u64)]| crate::distribute::proven_copies(net, store, ids);
            verify::verify(src.as_ref(), &present, &ctx.master, id, full)
                .map_err(|e| explain(ctx, e))?
        }
        None => {
            let present = |ids: &[(ShardId, u64)]| {
                ids.iter()
                    .map(
                        |(sid, _)| match store.meta(sid).map_err(|e| e.to_string())? {
                            None => Err("missing from the store".to_string()),
                            Some(m) if m.state != ShardState::Healthy => {
                                Err(format!("marked {}", m.state))
                            }
                            Some(_) => Ok(1),
                        },
                    )
                    .collect()
            };
            verify::verify(src.as_ref(), &present, &ctx.master, id, full)
                .map_err(|e| explain(ctx, e))?
        }
    };
    Ok(report)
}
