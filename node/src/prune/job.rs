//! Prune jobs: a plan run into quarantine (every entry checked again), its
//! rollback, its purge, and recovery of jobs a crash interrupted.

use serde::{Deserialize, Serialize};
use shardnet_protocol::prune::{Class, Verdict};
use shardnet_protocol::ShardId;
use shardnet_store::prune::{EntryState, JobEntry, JobState, PruneJob};
use shardnet_store::{ShardMeta, ShardState, Store};

use super::copy::{ask_peers, needs_peers, verdict_with};
use super::{plan_hash, Peers, PruneError, PrunePlan};
use crate::fault;

/// Runs `plan` (checked against its hash) as a new job: every entry is
/// checked again now, and moved to quarantine only if it is still in its
/// class. A dry run checks and counts, changes nothing and keeps no job.
pub fn run(
    store: &Store,
    plan: &PrunePlan,
    peers: Option<&Peers<'_>>,
    dry_run: bool,
    now: u64,
) -> Result<PruneJob, PruneError> {
    if plan.hash.starts_with("unhashable") || plan_hash(plan) != plan.hash {
        return Err(PruneError::PlanEdited);
    }
    let id = if dry_run {
        0
    } else {
        store.next_prune_job_id()?
    };
    let planned = plan.entries.len() as u64;
    let mut job = PruneJob::new(id, now, plan.hash.clone(), plan.classes.clone(), planned);
    job.log(now, format!("planned {} copies", plan.entries.len()));
    if !dry_run {
        store.put_prune_job(&job)?;
        fault::point("prune-run");
    }
    // Fresh proofs for the entries that rest on peers, in one batch.
    let mut seen_now = std::collections::HashMap::new();
    if let Some(p) = peers {
        let mut ask = Vec::new();
        for e in plan.entries.iter().filter(|e| needs_peers(e.class)) {
            if let Some(m) = store.meta(&e.shard)? {
                ask.push((e.shard, m));
            }
        }
        if !ask.is_empty() {
            seen_now = ask_peers(p, &ask, now);
        }
    }
    let seen = |id: &ShardId| seen_now.get(id).copied();
    for e in &plan.entries {
        let (skip, adopt) = match store.meta(&e.shard)? {
            None => (Some("no longer held".to_string()), false),
            Some(_) if needs_peers(e.class) && peers.is_none() => (
                Some("needs proofs from peers: run it through the running node".to_string()),
                false,
            ),
            Some(m) => match verdict_with(&m, now, seen(&e.shard), false) {
                (Verdict::Prune(c), _) if c == e.class => {
                    (None, m.state == ShardState::Quarantined)
                }
                (_, why) => (Some(format!("no longer {}: {why}", e.class.name())), false),
            },
        };
        let mut entry = JobEntry {
            shard: e.shard,
            class: e.class,
            bytes: e.bytes,
            state: EntryState::Intent,
            note: e.reason.clone(),
        };
        if let Some(why) = skip {
            job.skipped += 1;
            entry.state = EntryState::Skipped;
            entry.note = why;
        } else if dry_run {
            job.quarantined += 1;
            job.quarantined_bytes += e.bytes;
            continue;
        } else {
            store.put_prune_entry(job.id, &entry)?;
            fault::point("prune-run");
            let why = format!("prune job {}: {}: {}", job.id, e.class.name(), e.reason);
            let moved = adopt
                || store
                    .quarantine_copy(&e.shard, &why, e.class == Class::Corrupted)?
                    .is_some();
            fault::point("prune-run");
            if moved {
                job.quarantined += 1;
                job.quarantined_bytes += e.bytes;
                entry.state = EntryState::Quarantined;
            } else {
                job.skipped += 1;
                entry.state = EntryState::Skipped;
                entry.note = "changed while the job ran".into();
            }
        }
        if !dry_run {
            store.put_prune_entry(job.id, &entry)?;
            if entry.state != EntryState::Skipped {
                fault::point("prune-run");
            }
        }
    }
    job.state = JobState::Done;
    job.log(
        now,
        format!(
            "{} copies quarantined, {} skipped",
            job.quarantined, job.skipped
        ),
    );
    if !dry_run {
        store.put_prune_job(&job)?;
    }
    Ok(job)
}

fn job_in(
    store: &Store,
    id: u64,
    states: &[JobState],
    what: &'static str,
) -> Result<PruneJob, PruneError> {
    let job = store.prune_job(id)?.ok_or(PruneError::NoJob(id))?;
    if !states.contains(&job.state) {
        return Err(PruneError::WrongState {
            id,
            state: job.state,
            what,
        });
    }
    Ok(job)
}

/// Brings every copy the job quarantined back to service, each re-hashed
/// (healthy if its bytes still match, else corrupted).
pub fn rollback(store: &Store, id: u64, now: u64) -> Result<PruneJob, PruneError> {
    let mut job = job_in(
        store,
        id,
        &[JobState::Running, JobState::Done],
        "only a job whose copies are in quarantine can be rolled back",
    )?;
    let mut bad = 0;
    for mut e in store.prune_entries(id)? {
        if !matches!(e.state, EntryState::Intent | EntryState::Quarantined) {
            continue;
        }
        match store.unquarantine(&e.shard, &format!("rollback of prune job {id}"))? {
            Some(state) => {
                job.restored += 1;
                bad += usize::from(state != ShardState::Healthy);
                e.note = format!("back in service, bytes re-hashed: {state}");
            }
            None => e.note = "was not in quarantine".into(),
        }
        e.state = EntryState::Restored;
        store.put_prune_entry(id, &e)?;
    }
    job.state = JobState::RolledBack;
    job.log(
        now,
        format!(
            "rolled back: {} copies restored, {bad} of them corrupted on re-hash",
            job.restored
        ),
    );
    store.put_prune_job(&job)?;
    Ok(job)
}

/// Deletes the bytes of every copy the job quarantined that is still in its
/// class (a lease renewed since goes back to service instead). Returns the
/// job and the purged copies (size and owners, for the node's usage).
pub fn purge(
    store: &Store,
    id: u64,
    peers: Option<&Peers<'_>>,
    now: u64,
) -> Result<(PruneJob, Vec<ShardMeta>), PruneError> {
    let mut job = job_in(
        store,
        id,
        &[JobState::Done, JobState::Purging],
        "only a finished job whose copies are in quarantine can be purged",
    )?;
    if job.state == JobState::Done {
        job.state = JobState::Purging;
        job.log(now, "purging".into());
        store.put_prune_job(&job)?;
    } else {
        job.log(now, "purge resumed".into());
    }
    fault::point("prune-purge");
    let mut gone = Vec::new();
    let entries = store.prune_entries(id)?;
    let mut checked = std::collections::HashMap::new();
    if let Some(p) = peers {
        let mut ask = Vec::new();
        for e in entries.iter().filter(|e| needs_peers(e.class)) {
            if let Some(m) = store.meta(&e.shard)? {
                ask.push((e.shard, m));
            }
        }
        if !ask.is_empty() {
            checked = ask_peers(p, &ask, now);
        }
    }
    for mut e in entries {
        // An intent too: a crash may have kept the quarantine, not the entry.
        if !matches!(e.state, EntryState::Intent | EntryState::Quarantined) {
            continue;
        }
        let Some(m) = store
            .meta(&e.shard)?
            .filter(|m| m.state == ShardState::Quarantined)
        else {
            continue;
        };
        if needs_peers(e.class) && peers.is_none() {
            e.note = "left in quarantine: purging it needs proofs from peers (the running node); the repair's quarantine pass decides it".into();
            store.put_prune_entry(id, &e)?;
            continue;
        }
        let seen = checked.get(&e.shard).copied();
        match verdict_with(&m, now, seen, e.class == Class::Corrupted) {
            (Verdict::Prune(c), why) if c == e.class => {
                let proof = format!("prune job {id}: {}: {why}", c.name());
                if let Some(m) = store.purge(&e.shard, &proof)? {
                    fault::point("prune-purge");
                    job.purged += 1;
                    job.purged_bytes += m.size as u64;
                    e.state = EntryState::Purged;
                    gone.push(m);
                }
            }
            (_, why) => {
                store.unquarantine(
                    &e.shard,
                    &format!("prune job {id}: no longer prunable: {why}"),
                )?;
                job.restored += 1;
                e.state = EntryState::Restored;
                e.note = format!("no longer {}: {why}", e.class.name());
            }
        }
        store.put_prune_entry(id, &e)?;
        if e.state == EntryState::Purged {
            fault::point("prune-purge");
        }
    }
    job.state = JobState::Purged;
    job.log(
        now,
        format!("purged {} copies ({} bytes)", job.purged, job.purged_bytes),
    );
    store.put_prune_job(&job)?;
    Ok((job, gone))
}

/// Finishes jobs a crash interrupted: a run (some copies quarantined, some
/// not) is rolled back, a purge goes on. Called before anything else uses
/// the store's jobs: at the node's start and by local prune commands.
/// Returns what it did, one line per job.
pub fn recover(store: &Store, now: u64) -> Result<Vec<String>, PruneError> {
    let mut done = Vec::new();
    for job in store.prune_jobs()? {
        match job.state {
            JobState::Running => {
                let j = rollback(store, job.id, now)?;
                done.push(format!(
                    "prune job {} was interrupted while running: rolled back ({} copies restored)",
                    j.id, j.restored
                ));
            }
            JobState::Purging => {
                let (j, _) = purge(store, job.id, None, now)?;
                done.push(format!(
                    "prune job {} was interrupted while purging: purge finished ({} copies purged)",
                    j.id, j.purged
                ));
            }
            _ => {}
        }
    }
    Ok(done)
}

/// Purges every finished job that ran at least `after` seconds before `now`
/// (the operator had that long to roll it back). Returns each job purged
/// with the copies it deleted (for the node's usage).
pub fn auto_purge(
    store: &Store,
    peers: Option<&Peers<'_>>,
    after: u64,
    now: u64,
) -> Result<Vec<(PruneJob, Vec<ShardMeta>)>, PruneError> {
    let mut out = Vec::new();
    for job in store.prune_jobs()? {
        if job.state == JobState::Done && job.created_at.saturating_add(after) <= now {
            out.push(purge(store, job.id, peers, now)?);
        }
    }
    Ok(out)
}

/// A job and its entries, for `prune status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobStatus {
    pub job: PruneJob,
    pub entries: Vec<JobEntry>,
}

pub fn status(store: &Store, id: u64) -> Result<JobStatus, PruneError> {
    let job = store.prune_job(id)?.ok_or(PruneError::NoJob(id))?;
    Ok(JobStatus {
        entries: store.prune_entries(id)?,
        job,
    })
}
