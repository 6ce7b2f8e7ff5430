//! Making segment records durable: the writer's report of each record
//! written, the wait for the queue to drain, the sync that precedes every
//! flush or WAL sync and the marks it returns, and the deletion of segments
//! emptied before a flush.

use super::writer::Job;
use super::{io, Inner, State};
use crate::error::StoreError;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

impl Inner {
    /// Called by the writer once a record is written (or failed).
    pub(super) fn written(&self, job: &Job, r: std::io::Result<()>) {
        let mut st = self.state();
        if let Some(f) = st.in_flight.get_mut(&job.segment) {
            f.remove(&job.offset);
        }
        st.pending.remove(&(job.segment, job.offset));
        match r {
            Ok(()) => {
                let end = job.offset + job.buf.as_slice().len() as u64;
                let d = st.dirty.entry(job.segment).or_insert(0);
                *d = (*d).max(end);
            }
            Err(e) => {
                tracing::error!(segment = job.segment, "a segment write failed: {e}");
                st.failed = Some(io("cannot write to", &self.path(job.segment), e));
            }
        }
        st.completed = job.seq;
        self.written.notify_all();
    }

    /// Waits until every record queued so far is written.
    pub(super) fn drain(&self) -> MutexGuard<'_, State> {
        let mut st = self.state();
        let target = st.submitted;
        while st.completed < target {
            st = self.written.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st
    }

    /// Makes every record queued so far durable (once the writer has
    /// written them), and reports a write that failed since the last sync
    /// (its records then read as bad copies). Returns how far each
    /// segment written since the last sync is now known to be on disk
    /// (records still being written stop the mark at their offset).
    pub(crate) fn sync(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        self.unsynced.store(0, Ordering::Relaxed);
        let (dirty, files, in_flight) = {
            let mut st = self.drain();
            if let Some(e) = st.failed.take() {
                return Err(e);
            }
            let dirty = std::mem::take(&mut st.dirty);
            // A read may have closed a written segment's handle (more than
            // `OPEN_FILES` open): it is opened again below, never skipped.
            let files: Vec<_> = dirty
                .keys()
                .map(|s| (*s, st.files.get(s).cloned()))
                .collect();
            (dirty, files, st.in_flight.clone())
        };
        for (segment, f) in files {
            let synced = match f {
                Some(f) => f.sync_data(),
                None => match self.open_file(segment, false) {
                    Ok(f) => f.sync_data(),
                    // Deleted after its records all went: nothing to sync.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = synced {
                // Not synced: they stay to be synced again.
                let mut st = self.state();
                for (s, end) in &dirty {
                    let d = st.dirty.entry(*s).or_insert(0);
                    *d = (*d).max(*end);
                }
                return Err(io("cannot sync", &self.path(segment), e));
            }
        }
        Ok(dirty
            .into_iter()
            .map(|(s, end)| {
                let first_unwritten = in_flight.get(&s).and_then(|f| f.first().copied());
                (s, first_unwritten.map_or(end, |o| o.min(end)))
            })
            .collect())
    }

    /// Deletes the segments emptied before the flush that just completed.
    pub(crate) fn delete_doomed(&self) {
        let doomed: Vec<u32> = {
            let mut st = self.state();
            let d = std::mem::take(&mut st.doomed);
            for s in &d {
                st.files.remove(s);
                st.ends.remove(s);
            }
            // A segment refilled since (cannot happen: only the active one
            // is written, and it is never doomed) would be kept.
            d.into_iter().filter(|s| !st.live.contains_key(s)).collect()
        };
        for s in doomed {
            let p = self.path(s);
            if let Err(e) = std::fs::remove_file(&p) {
                tracing::warn!(path = %p.display(), "cannot delete an empty segment: {e}");
            }
        }
    }
}
