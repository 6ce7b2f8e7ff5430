//! Pruning jobs (plan, run, status, rollback, purge) and the audit trail.

use super::OpError;
use crate::distribute::Net;
use serde::{Deserialize, Serialize};
use shardnet_store::{AuditEvent, AuditFilter, ChainReport, Store};
use std::path::PathBuf;

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
