//! The operations behind the CLI, as plain functions from a [`Ctx`] and a
//! request to a serialisable report. The CLI calls them directly on the local
//! store when no daemon runs, and the daemon's control API calls them with the
//! swarm attached; both print the same reports.

pub mod delete;
pub mod lifecycle;

use crate::backup::{self, BackupError, BackupOptions, BackupReport};
use crate::distribute::{Net, SwarmSink, SwarmSource};
use crate::manifests::{self, LoadError};
use crate::restore::{self, RestoreError, RestoreReport};
use crate::shards::{Local, ShardSink, ShardSource};
use crate::verify::{self, VerifyReport};
use serde::{Deserialize, Serialize};
use shardnet_protocol::catalogue::CatalogueEntry;
use shardnet_protocol::manifest::{BackupInfo, EntryKind};
use shardnet_protocol::{retention, BackupId, Cipher, MasterKey, ShardId, Tier};
use shardnet_store::{
    AuditEvent, AuditFilter, ChainReport, ShardMeta, ShardState, Store, StoreError,
};
use std::path::PathBuf;

/// What an operation needs: the store, the owner key, and the swarm if the
/// node is running.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub master: MasterKey,
    pub net: Option<&'a Net>,
    /// The node's data dir, never backed up.
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Swarm(String),
    #[error(transparent)]
    Prune(#[from] crate::prune::PruneError),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Absolute paths (the daemon's working directory is not the caller's).
    pub paths: Vec<PathBuf>,
    pub tier: Tier,
    pub name: String,
    pub cipher: Cipher,
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
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardRow {
    pub id: ShardId,
    #[serde(flatten)]
    pub meta: ShardMeta,
    /// Past its leases' grace period, or without a lease.
    pub expired: bool,
    pub retention: retention::LeaseState,
}

impl Ctx<'_> {
    pub(crate) fn source(&self) -> Box<dyn ShardSource + '_> {
        match self.net {
            Some(net) => Box::new(SwarmSource::new(net, self.store)),
            None => Box::new(Local(self.store)),
        }
    }
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
            let sink = SwarmSink::new(net, ctx.store, &ctx.master);
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

fn backup_list_all(ctx: &Ctx<'_>) -> Result<Vec<CatalogueEntry>, OpError> {
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
    Ok(ShowReport {
        id: *id,
        info: root.info,
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
fn explain(ctx: &Ctx<'_>, e: LoadError) -> OpError {
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

/// Status filter of `shards list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusFilter {
    State(ShardState),
    Expired,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("expired") {
            return Ok(StatusFilter::Expired);
        }
        s.parse::<ShardState>()
            .map(StatusFilter::State)
            .map_err(|_| {
                format!("unknown status {s:?}: expected healthy, corrupted, quarantined or expired")
            })
    }
}

/// One shard's `shards verify` result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifyRow {
    pub id: ShardId,
    /// State after the check.
    pub state: Option<ShardState>,
    pub ok: bool,
    pub detail: String,
}

/// Re-reads and re-hashes `ids` (every held shard when empty); a mismatch or
/// missing bytes mark the copy corrupted (repair then replaces it).
pub fn shards_verify(store: &Store, ids: &[ShardId]) -> Result<Vec<VerifyRow>, OpError> {
    let mut ids = ids.to_vec();
    if ids.is_empty() {
        store.for_each_meta(|id, _| {
            ids.push(id);
            true
        })?;
    }
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let (ok, detail) = match store.get_shard(&id) {
            Ok(b) => (true, format!("{} bytes hash to the id", b.len())),
            Err(e) => (false, e.to_string()),
        };
        let state = store.meta(&id)?.map(|m| m.state);
        rows.push(VerifyRow {
            id,
            state,
            ok,
            detail,
        });
    }
    Ok(rows)
}

/// `prune plan` and `prune run`: a plan file (absolute: the node reads it,
/// so a plan of any size never goes through the API's body limit), or the
/// classes to plan now.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneRunRequest {
    pub plan: Option<PathBuf>,
    pub classes: Vec<shardnet_protocol::prune::Class>,
    pub dry_run: bool,
    #[serde(default)]
    pub filter: crate::prune::PlanFilter,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneJobRequest {
    pub job: u64,
}

pub fn prune_plan(
    store: &Store,
    net: Option<&Net>,
    req: &PruneRunRequest,
) -> Result<crate::prune::PrunePlan, OpError> {
    let peers = net.map(|n| crate::prune::peers(n, store));
    Ok(crate::prune::plan(
        store,
        &req.classes,
        &req.filter,
        peers.as_ref(),
        crate::output::now_unix(),
    )?)
}

pub fn prune_run(
    store: &Store,
    net: Option<&Net>,
    req: &PruneRunRequest,
) -> Result<shardnet_store::prune::PruneJob, OpError> {
    let now = crate::output::now_unix();
    let peers = net.map(|n| crate::prune::peers(n, store));
    let plan = match &req.plan {
        Some(path) => crate::prune::read_plan(path)?,
        None => crate::prune::plan(store, &req.classes, &req.filter, peers.as_ref(), now)?,
    };
    Ok(crate::prune::run(
        store,
        &plan,
        peers.as_ref(),
        req.dry_run,
        now,
    )?)
}

pub fn prune_jobs(store: &Store) -> Result<Vec<shardnet_store::prune::PruneJob>, OpError> {
    Ok(store.prune_jobs()?)
}

pub fn prune_status(
    store: &Store,
    req: &PruneJobRequest,
) -> Result<crate::prune::JobStatus, OpError> {
    Ok(crate::prune::status(store, req.job)?)
}

pub fn prune_rollback(
    store: &Store,
    req: &PruneJobRequest,
) -> Result<shardnet_store::prune::PruneJob, OpError> {
    Ok(crate::prune::rollback(
        store,
        req.job,
        crate::output::now_unix(),
    )?)
}

/// Purges a job's copies; a running node stops counting their bytes.
pub fn prune_purge(
    store: &Store,
    net: Option<&Net>,
    req: &PruneJobRequest,
) -> Result<shardnet_store::prune::PruneJob, OpError> {
    let peers = net.map(|n| crate::prune::peers(n, store));
    let (job, gone) =
        crate::prune::purge(store, req.job, peers.as_ref(), crate::output::now_unix())?;
    if let Some(net) = net {
        net.usage.sub_purged(&gone);
    }
    Ok(job)
}

/// The audit events `filter` selects.
pub fn audit_log(store: &Store, filter: &AuditFilter) -> Result<Vec<AuditEvent>, OpError> {
    Ok(store.audit_query(filter)?)
}

/// Every link of the audit chain, recomputed.
pub fn audit_verify(store: &Store) -> Result<ChainReport, OpError> {
    Ok(store.audit_verify()?)
}

pub fn shards_list(store: &Store, status: Option<StatusFilter>) -> Result<Vec<ShardRow>, OpError> {
    let now = crate::output::now_unix();
    let mut rows = Vec::new();
    store.for_each_meta(|id, meta| {
        let state = retention::lease_state(&meta.leases, now, retention::GRACE_SECS);
        let expired = state.prunable();
        let keep = match status {
            None => true,
            Some(StatusFilter::State(s)) => meta.state == s,
            Some(StatusFilter::Expired) => expired,
        };
        if keep {
            rows.push(ShardRow {
                id,
                meta,
                expired,
                retention: state,
            });
        }
        true
    })?;
    Ok(rows)
}
