//! Prune: a plan of the local copies that may leave this node
//! (`protocol::prune::classify`), a job that re-checks every entry and moves
//! the copies to quarantine, and the job's rollback (bytes re-hashed, back to
//! healthy) or purge. Jobs live in the store (`shardnet_store::prune`).
//!
//! Expired and orphaned copies are decided from the local store alone.
//! Corrupted and redundant ones rest on [`Peers`]: copies proven elsewhere
//! just now by this node's own sampled proofs, and this node's place in the
//! shard's responsible set. They are checked when planned, again when the
//! job runs and again before the purge; without the running node (no
//! proofs) they are never planned, skipped at run time and left in
//! quarantine at purge time (the repair's quarantine pass decides them).
//! A bad copy with no healthy copy proven anywhere is reported lost.

use serde::{Deserialize, Serialize};
use shardnet_protocol::prune::{self, Class, LocalCopy, Verdict};
use shardnet_protocol::{lease, reclaim, retention, ShardId, Tier};
use shardnet_store::prune::{EntryState, JobEntry, JobState, PruneJob};
use shardnet_store::{ShardMeta, ShardState, Store, StoreError};

use crate::fault;

/// Largest plan file accepted (a few million entries).
const MAX_PLAN_LEN: u64 = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the plan's hash does not match its entries (edited since `prune plan` wrote it): make a new plan")]
    PlanEdited,
    #[error("plan file {path}: {reason}")]
    PlanFile { path: String, reason: String },
    #[error("no prune job {0} (`shardnet prune jobs` lists them)")]
    NoJob(u64),
    #[error("prune job {id} is {state:?}: {what}")]
    WrongState {
        id: u64,
        state: JobState,
        what: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub shard: ShardId,
    pub class: Class,
    pub bytes: u64,
    pub reason: String,
    /// The tier whose copy count the leases ask for (none without a lease).
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// What narrows a plan beyond its classes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFilter {
    /// Only copies of this tier.
    pub tier: Option<Tier>,
    /// Only copies stored more than this many seconds ago.
    pub older_than: Option<u64>,
    /// Only as many copies as free this many bytes, in reclaim order
    /// (`protocol::reclaim::pick`).
    pub reclaim: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTotal {
    /// A tier as JSON names it elsewhere ("Bronze"), or "none" (no lease).
    pub tier: String,
    pub shards: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTotal {
    pub class: Class,
    pub shards: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunePlan {
    pub created_at: u64,
    pub classes: Vec<Class>,
    pub entries: Vec<PlanEntry>,
    pub totals: Vec<ClassTotal>,
    /// Bad here, no healthy copy proven anywhere: reported, never deleted.
    pub lost: Vec<ShardId>,
    #[serde(default)]
    pub filter: PlanFilter,
    #[serde(default)]
    pub tiers: Vec<TierTotal>,
    /// BLAKE3 (hex) of the fields above: `prune run` refuses an edited plan.
    pub hash: String,
}

/// BLAKE3 over the plan's fields as JSON, streamed (no size cap: a capped
/// encoder would hash every oversized plan alike). Serialising these plain
/// types cannot fail; if it did, the hash would match nothing.
fn plan_hash(p: &PrunePlan) -> String {
    let body = (
        (&p.created_at, &p.classes, &p.entries, &p.totals, &p.lost),
        (&p.filter, &p.tiers),
    );
    let mut h = blake3::Hasher::new();
    match serde_json::to_writer(&mut h, &body) {
        Ok(()) => h.finalize().to_hex().to_string(),
        Err(e) => format!("unhashable: {e}"),
    }
}

/// Reads a plan written by `prune plan --out`.
pub fn read_plan(path: &std::path::Path) -> Result<PrunePlan, PruneError> {
    let err = |reason: String| PruneError::PlanFile {
        path: path.display().to_string(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .len();
    if len > MAX_PLAN_LEN {
        return Err(err(format!(
            "{len} bytes, over the {MAX_PLAN_LEN}-byte limit"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        err(format!(
            "not a plan written by `shardnet prune plan --out`: {e}"
        ))
    })
}

/// Healthy copies of each (shard, size) proven just now on other peers.
pub type ProvenElsewhere<'a> = Box<dyn Fn(&[(ShardId, u64)]) -> Vec<usize> + 'a>;
/// Whether this node is in the responsible set of (shard, size, copies).
pub type Responsible<'a> = Box<dyn Fn(&ShardId, u64, usize) -> bool + 'a>;

/// What the running node proves of the copies beyond its own.
pub struct Peers<'a> {
    pub proven_elsewhere: ProvenElsewhere<'a>,
    pub responsible: Responsible<'a>,
}

/// Peers as the running node sees them: sampled proofs of every live
/// peer's claimed copy (`distribute::proven_copies`), less this node's own.
pub fn peers<'a>(net: &'a crate::distribute::Net, store: &'a Store) -> Peers<'a> {
    let candidates = net.view.candidates();
    let local = net.client.local_peer_id();
    Peers {
        proven_elsewhere: Box::new(move |ids| {
            crate::distribute::proven_copies(net, store, ids)
                .into_iter()
                .zip(ids)
                .map(|(r, (id, _))| {
                    let mine =
                        matches!(store.meta(id), Ok(Some(m)) if m.state == ShardState::Healthy);
                    r.unwrap_or(0).saturating_sub(usize::from(mine))
                })
                .collect()
        }),
        // One snapshot of the view for the whole plan, run or purge.
        responsible: Box::new(move |id, size, copies| {
            shardnet_protocol::placement::responsible_set(id, size, &candidates, copies)
                .contains(&local)
        }),
    }
}

/// Whether `class` rests on proofs from peers.
fn needs_peers(class: Class) -> bool {
    matches!(class, Class::Corrupted | Class::Redundant)
}

/// (responsible, copies proven elsewhere) per shard, for the copies of
/// `metas` that `peers` must decide.
fn ask_peers(
    peers: &Peers<'_>,
    metas: &[(ShardId, ShardMeta)],
    now: u64,
) -> std::collections::HashMap<ShardId, (bool, usize)> {
    let ids: Vec<(ShardId, u64)> = metas.iter().map(|(id, m)| (*id, m.size as u64)).collect();
    let proven = (peers.proven_elsewhere)(&ids);
    metas
        .iter()
        .zip(proven)
        .map(|((id, m), p)| {
            let wanted = lease::copies_wanted(&m.leases, now);
            (*id, ((peers.responsible)(id, m.size as u64, wanted), p))
        })
        .collect()
}

/// What this node can tell of its copy: from its own store, and from
/// `seen` (its place in the responsible set, copies proven elsewhere) when
/// the running node checked. Without it: never redundant, never removable
/// as corrupted. `corrupted` marks a copy quarantined while corrupted.
fn local_copy(m: &ShardMeta, now: u64, seen: Option<(bool, usize)>, corrupted: bool) -> LocalCopy {
    let (responsible, proven_elsewhere) = seen.unwrap_or((true, 0));
    LocalCopy {
        lease: retention::lease_state(&m.leases, now, retention::GRACE_SECS),
        corrupted: corrupted || m.state == ShardState::Corrupted,
        responsible,
        proven_elsewhere,
        wanted: lease::copies_wanted(&m.leases, now),
    }
}

fn verdict_with(
    m: &ShardMeta,
    now: u64,
    seen: Option<(bool, usize)>,
    corrupted: bool,
) -> (Verdict, String) {
    let c = local_copy(m, now, seen, corrupted);
    let v = prune::classify(&c, prune::MIN_COPIES);
    (v, prune::reason(&c, v, prune::MIN_COPIES))
}

fn verdict(m: &ShardMeta, now: u64) -> (Verdict, String) {
    verdict_with(m, now, None, false)
}

/// The tier whose copy count `copies` is.
pub(crate) fn tier_of(copies: usize) -> Option<Tier> {
    Tier::ALL
        .into_iter()
        .find(|t| t.copies() as usize == copies)
}

/// Every local copy in `classes` (all when empty) that may leave now and
/// passes `filter`.
pub fn plan(
    store: &Store,
    classes: &[Class],
    filter: &PlanFilter,
    peers: Option<&Peers<'_>>,
    now: u64,
) -> Result<PrunePlan, StoreError> {
    let classes: Vec<Class> = if classes.is_empty() {
        Class::ALL.to_vec()
    } else {
        classes.to_vec()
    };
    let (mut entries, mut lost) = (Vec::new(), Vec::new());
    // Copies only peers' proofs can decide, checked in one batch after.
    let mut deferred: Vec<(ShardId, ShardMeta)> = Vec::new();
    let asks_corrupted = peers.is_some() && classes.contains(&Class::Corrupted);
    let asks_redundant = peers.is_some() && classes.contains(&Class::Redundant);
    store.for_each_meta(|id, m| {
        // Quarantined copies too: one that the quarantine pass held when
        // its leases ran out is prune's now.
        if matches!(
            m.state,
            ShardState::Healthy | ShardState::Corrupted | ShardState::Quarantined
        ) {
            let tier = (!m.leases.is_empty())
                .then(|| tier_of(lease::copies_wanted(&m.leases, now)))
                .flatten();
            let old_enough = filter
                .older_than
                .is_none_or(|age| m.stored_at.saturating_add(age) <= now);
            let in_tier = filter.tier.is_none_or(|t| tier == Some(t));
            let live = retention::lease_state(&m.leases, now, retention::GRACE_SECS)
                == retention::LeaseState::Live;
            let outside = asks_redundant
                && m.state == ShardState::Healthy
                && live
                && peers.is_some_and(|p| {
                    !(p.responsible)(&id, m.size as u64, lease::copies_wanted(&m.leases, now))
                });
            if old_enough
                && in_tier
                && ((asks_corrupted && m.state == ShardState::Corrupted) || outside)
            {
                deferred.push((id, m));
                return true;
            }
            match verdict(&m, now) {
                (Verdict::Prune(class), reason)
                    if classes.contains(&class) && old_enough && in_tier =>
                {
                    entries.push(PlanEntry {
                        shard: id,
                        class,
                        bytes: m.size as u64,
                        reason,
                        tier,
                    })
                }
                (Verdict::Lost, _) => lost.push(id),
                _ => {}
            }
        }
        true
    })?;
    if let Some(p) = peers.filter(|_| !deferred.is_empty()) {
        let seen = ask_peers(p, &deferred, now);
        for (id, m) in &deferred {
            match verdict_with(m, now, seen.get(id).copied(), false) {
                (Verdict::Prune(class), reason) if classes.contains(&class) => {
                    entries.push(PlanEntry {
                        shard: *id,
                        class,
                        bytes: m.size as u64,
                        reason,
                        tier: tier_of(lease::copies_wanted(&m.leases, now)),
                    })
                }
                (Verdict::Lost, _) => lost.push(*id),
                _ => {}
            }
        }
    }
    if let Some(budget) = filter.reclaim {
        let cands: Vec<(Class, u64)> = entries.iter().map(|e| (e.class, e.bytes)).collect();
        let mut picked: Vec<Option<PlanEntry>> = entries.into_iter().map(Some).collect();
        entries = reclaim::pick(&cands, budget)
            .into_iter()
            .filter_map(|i| picked[i].take())
            .collect();
    }
    let mut tiers: Vec<TierTotal> = Vec::new();
    for e in &entries {
        let name = e.tier.map_or("none".to_string(), |t| format!("{t:?}"));
        match tiers.iter_mut().find(|t| t.tier == name) {
            Some(t) => {
                t.shards += 1;
                t.bytes += e.bytes;
            }
            None => tiers.push(TierTotal {
                tier: name,
                shards: 1,
                bytes: e.bytes,
            }),
        }
    }
    let totals = classes
        .iter()
        .map(|c| {
            let of: Vec<&PlanEntry> = entries.iter().filter(|e| e.class == *c).collect();
            ClassTotal {
                class: *c,
                shards: of.len() as u64,
                bytes: of.iter().map(|e| e.bytes).sum(),
            }
        })
        .collect();
    let mut p = PrunePlan {
        created_at: now,
        classes,
        entries,
        totals,
        lost,
        filter: filter.clone(),
        tiers,
        hash: String::new(),
    };
    p.hash = plan_hash(&p);
    Ok(p)
}

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
