//! Prune jobs, kept in the store so that they survive restarts: a job record
//! (counts, state, a short history) and one record per shard it touched.
//! An entry is written *before* its copy is quarantined (the intent), and
//! again after: a crash between the two leaves an intent that a rollback or
//! a purge handles like any other entry (unquarantine and purge ignore
//! copies that are not quarantined).

use crate::db::{Store, CF_STATE};
use crate::error::StoreError;
use rocksdb::{IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use shardnet_protocol::codec;
use shardnet_protocol::prune::Class;
use shardnet_protocol::ShardId;

const JOB_PREFIX: &str = "prune/job/";
const ENTRY_PREFIX: &str = "prune/entry/";
const MAX_JOB_LEN: usize = 64 << 10;
const MAX_ENTRY_LEN: usize = 4 << 10;
/// History lines a job keeps (the oldest go first).
const MAX_HISTORY: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Quarantining its copies (or interrupted while doing so).
    Running,
    /// Its copies are in quarantine: roll back or purge.
    Done,
    RolledBack,
    Purged,
    /// Deleting its quarantined copies (or interrupted while doing so: the
    /// next start finishes the purge).
    Purging,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneJob {
    pub id: u64,
    pub created_at: u64,
    /// The plan it ran (hex BLAKE3), or empty for `--class`.
    pub plan_hash: String,
    pub classes: Vec<Class>,
    pub state: JobState,
    pub planned: u64,
    pub quarantined: u64,
    pub quarantined_bytes: u64,
    pub skipped: u64,
    pub restored: u64,
    pub purged: u64,
    pub purged_bytes: u64,
    /// (unix seconds, what happened), newest last.
    pub history: Vec<(u64, String)>,
}

impl PruneJob {
    /// A job about to run `planned` entries of a plan (`plan_hash`).
    pub fn new(
        id: u64,
        created_at: u64,
        plan_hash: String,
        classes: Vec<Class>,
        planned: u64,
    ) -> Self {
        PruneJob {
            id,
            created_at,
            plan_hash,
            classes,
            state: JobState::Running,
            planned,
            quarantined: 0,
            quarantined_bytes: 0,
            skipped: 0,
            restored: 0,
            purged: 0,
            purged_bytes: 0,
            history: Vec::new(),
        }
    }

    pub fn log(&mut self, at: u64, line: String) {
        if self.history.len() >= MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push((at, line));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// About to be quarantined (written first).
    Intent,
    Quarantined,
    /// Left alone at run time; the reason is in `note`.
    Skipped,
    Restored,
    Purged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEntry {
    pub shard: ShardId,
    pub class: Class,
    pub bytes: u64,
    pub state: EntryState,
    pub note: String,
}

fn job_key(id: u64) -> String {
    format!("{JOB_PREFIX}{id:020}")
}

fn entry_key(job: u64, shard: &ShardId) -> String {
    format!("{ENTRY_PREFIX}{job:020}/{shard}")
}

impl Store {
    /// A new job id: one past the highest used.
    pub fn next_prune_job_id(&self) -> Result<u64, StoreError> {
        Ok(self.prune_jobs()?.iter().map(|j| j.id).max().unwrap_or(0) + 1)
    }

    /// Writes a job record (flushed: jobs outlive crashes).
    pub fn put_prune_job(&self, job: &PruneJob) -> Result<(), StoreError> {
        let bytes = codec::encode::<_, MAX_JOB_LEN>("prune job", job)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STATE), job_key(job.id), bytes);
        self.write(batch)?;
        self.flush()
    }

    pub fn prune_job(&self, id: u64) -> Result<Option<PruneJob>, StoreError> {
        self.db_get(CF_STATE, job_key(id).as_bytes())?
            .map(|v| codec::decode::<_, MAX_JOB_LEN>("prune job", &v))
            .transpose()
            .map_err(Into::into)
    }

    /// Every job, oldest first.
    pub fn prune_jobs(&self) -> Result<Vec<PruneJob>, StoreError> {
        self.prefixed(JOB_PREFIX)?
            .into_iter()
            .map(|v| codec::decode::<_, MAX_JOB_LEN>("prune job", &v).map_err(Into::into))
            .collect()
    }

    /// Writes one entry of a job, unflushed: the flush of the change it
    /// announces (quarantine, unquarantine and purge flush every column
    /// family at once) or of the job record makes it durable with it, so an
    /// intent is never lost while its change is kept.
    pub fn put_prune_entry(&self, job: u64, e: &JobEntry) -> Result<(), StoreError> {
        let bytes = codec::encode::<_, MAX_ENTRY_LEN>("prune entry", e)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STATE), entry_key(job, &e.shard), bytes);
        self.write(batch)
    }

    pub fn prune_entries(&self, job: u64) -> Result<Vec<JobEntry>, StoreError> {
        self.prefixed(&format!("{ENTRY_PREFIX}{job:020}/"))?
            .into_iter()
            .map(|v| codec::decode::<_, MAX_ENTRY_LEN>("prune entry", &v).map_err(Into::into))
            .collect()
    }

    fn prefixed(&self, prefix: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mode = IteratorMode::From(prefix.as_bytes(), rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self.db_iter(CF_STATE, mode) {
            let (k, v) = item?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            out.push(v.into_vec());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_entries_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.next_prune_job_id().unwrap(), 1);
        for id in [1, 2, 10] {
            let mut job = PruneJob::new(id, 5, String::new(), vec![Class::Expired], 2);
            for i in 0..70 {
                job.log(i, format!("line {i}"));
            }
            s.put_prune_job(&job).unwrap();
            for b in [3u8, 1] {
                let e = JobEntry {
                    shard: ShardId([b; 32]),
                    class: Class::Expired,
                    bytes: 9,
                    state: EntryState::Intent,
                    note: String::new(),
                };
                s.put_prune_entry(id, &e).unwrap();
            }
        }
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        let jobs = s.prune_jobs().unwrap();
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [1, 2, 10]);
        assert_eq!(jobs[0].history.len(), MAX_HISTORY);
        assert_eq!(jobs[0].history[0].1, "line 6");
        assert_eq!(s.next_prune_job_id().unwrap(), 11);
        let entries = s.prune_entries(2).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.shard).collect::<Vec<_>>(),
            [ShardId([1; 32]), ShardId([3; 32])]
        );
        assert!(s.prune_entries(3).unwrap().is_empty());
        assert_eq!(s.prune_job(2).unwrap().unwrap().id, 2);
        assert!(s.prune_job(4).unwrap().is_none());
    }
}
