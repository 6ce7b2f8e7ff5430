//! Segment files: where shard bytes of [`SEGMENT_MIN`] and more are written,
//! once. RocksDB keeps only their location (the `locations` column family),
//! as BlueStore keeps its data beside RocksDB and WiscKey its values.
//!
//! Why: through RocksDB every stored byte was written twice on a holder (WAL,
//! then the blob file at flush) and copied three times on a backup (write
//! batch, memtable, the blob writer's aligned buffer), and checksummed with
//! each write. A profile of `bench --swarm 5` put the holders' RocksDB at 30%
//! of the swarm's CPU. Here a record is copied once into an aligned buffer
//! and written with `O_DIRECT` where the file system allows it; the shard's
//! id (BLAKE3 of its bytes) is its checksum, checked on every read.
//!
//! Durability: a record's bytes are made durable by [`Inner::sync`]
//! (fdatasync of every file written since), which the store runs before it
//! makes the locations durable (a flush or a WAL sync). A location can still
//! reach the disk first (RocksDB flushes full memtables on its own), so each
//! sync also records how far each segment is known synced, and at open every
//! record past that mark is re-hashed (`Store::recover_segments`).
//! Records are written by one writer thread per store (`writer`) while the
//! callers go on sealing or hashing; `durable` waits for them, syncs and
//! deletes emptied files; `read` reads records back.
//! Files are only appended to by the process that created them; each open
//! starts a new segment. A segment whose records are all gone is deleted
//! after the store's next flush (so a crash cannot bring back a location
//! into a deleted file). Partly dead segments give their space back through
//! a copy-forward of their live records (`Store::reclaim_segments`).

mod durable;
mod read;
mod record;
mod writer;

pub(crate) use record::Location;
use record::{align_up, header, AlignedBuf, HEADER};

use crate::error::StoreError;
use shardnet_protocol::ShardId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use writer::{Job, Writer};

/// Shards of at least this many bytes go to segments; smaller ones stay
/// inline in RocksDB (a record pads to 4 KiB).
pub(crate) const SEGMENT_MIN: usize = 64 << 10;
/// A segment is closed once this large: small enough that a segment empties
/// as its shards expire, large enough to keep few files open.
const SEGMENT_SIZE: u64 = 128 << 20;
/// Space reserved ahead of the writes (`fallocate`), so that direct writes
/// stay inside the file and do not serialise on extending it.
const PREALLOCATE: u64 = 8 << 20;
/// Dead bytes a segment must hold before reclaiming it is worth a copy.
pub(crate) const RECLAIM_MIN_DEAD: u64 = 8 << 20;
/// Segment files kept open for reads.
pub(super) const OPEN_FILES: usize = 128;
/// Bytes appended without a sync past which the store flushes by itself
/// ([`Segments::unsynced`]), as RocksDB flushed full memtables: a long
/// backup killed midway keeps what it stored up to the last flush.
pub(crate) const AUTO_FLUSH: u64 = 64 << 20;

/// Why a record could not be read as the shard's bytes.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The record is missing or wrong: the copy is bad (mark it).
    Bad(String),
    /// The read failed for a reason that says nothing about the copy.
    Io(StoreError),
}

struct Active {
    segment: u32,
    file: Arc<File>,
    /// Next free offset.
    next: u64,
    /// Bytes reserved with `fallocate`.
    allocated: u64,
}

#[derive(Default)]
struct State {
    active: Option<Active>,
    next_segment: u32,
    /// Open handles, by segment.
    files: HashMap<u32, Arc<File>>,
    /// Bytes of live records, by segment.
    live: HashMap<u32, u64>,
    /// How far each segment has been written (dead records included).
    ends: HashMap<u32, u64>,
    /// Offsets of records being written, by segment (not yet syncable).
    in_flight: BTreeMap<u32, BTreeSet<u64>>,
    /// End of the records written since the last sync, by segment.
    dirty: BTreeMap<u32, u64>,
    /// Segments without live records, deleted after the next flush.
    doomed: BTreeSet<u32>,
    /// Records queued for the writer and not yet written, readable here.
    pending: HashMap<(u32, u64), Arc<AlignedBuf>>,
    /// Records queued so far, and written so far (the writer keeps order).
    submitted: u64,
    completed: u64,
    /// A write that failed since the last sync: the next sync reports it.
    failed: Option<StoreError>,
}

/// The segments, shared with their writer thread.
pub(crate) struct Inner {
    dir: PathBuf,
    direct: bool,
    state: Mutex<State>,
    /// Signalled as records are written.
    written: Condvar,
    /// Bytes appended since the last sync began.
    unsynced: AtomicU64,
}

pub(crate) struct Segments {
    inner: Arc<Inner>,
    /// Started at the first append (a store of small shards never needs it).
    writer: Mutex<Option<Writer>>,
}

impl std::ops::Deref for Segments {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Drop for Segments {
    /// Waits for the records queued (the store's own drop synced them).
    fn drop(&mut self) {
        let w = self
            .writer
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = w {
            drop(w.tx);
            let _ = w.thread.join();
        }
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        return StoreError::DiskFull(format!("{what} {}: {e}", path.display()));
    }
    StoreError::Engine(format!("{what} {}: {e}", path.display()))
}

fn segment_number(p: &Path) -> Option<u32> {
    let name = p.file_name()?.to_str()?;
    name.strip_suffix(".seg")?.parse().ok()
}

impl Segments {
    /// Opens the segment directory `dir` (created if missing). `direct`:
    /// whether the file system takes `O_DIRECT`.
    pub(crate) fn open(dir: &Path, direct: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let mut next = 0;
        for e in std::fs::read_dir(dir).map_err(|e| io("cannot list", dir, e))? {
            let e = e.map_err(|e| io("cannot list", dir, e))?;
            if let Some(n) = segment_number(&e.path()) {
                next = next.max(n + 1);
            }
        }
        Ok(Segments {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                direct,
                state: Mutex::new(State {
                    next_segment: next,
                    ..State::default()
                }),
                written: Condvar::new(),
                unsynced: AtomicU64::new(0),
            }),
            writer: Mutex::new(None),
        })
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic mid-update leaves counters at worst stale: carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, segment: u32) -> PathBuf {
        self.dir.join(format!("{segment:08}.seg"))
    }

    fn open_file(&self, segment: u32, create: bool) -> std::io::Result<File> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        if create {
            o.write(true).create_new(true);
        }
        if self.direct {
            o.custom_flags(libc::O_DIRECT);
        }
        o.open(self.path(segment))
    }

    /// Counts the live records found in the index at open, and deletes the
    /// segment files that hold none (left by a crash, or emptied before
    /// one).
    pub(crate) fn load(
        &self,
        live: HashMap<u32, u64>,
        ends: HashMap<u32, u64>,
    ) -> Result<(), StoreError> {
        let mut st = self.state();
        for e in std::fs::read_dir(&self.dir).map_err(|e| io("cannot list", &self.dir, e))? {
            let p = e.map_err(|e| io("cannot list", &self.dir, e))?.path();
            match segment_number(&p) {
                Some(n) if !live.contains_key(&n) => {
                    std::fs::remove_file(&p).map_err(|e| io("cannot delete", &p, e))?;
                }
                _ => {}
            }
        }
        st.live = live;
        st.ends = ends;
        Ok(())
    }

    /// Closed segments whose live records fill less than half of them and
    /// leave at least [`RECLAIM_MIN_DEAD`] dead, sparsest first: the ones a
    /// copy-forward of their live records frees the most space from.
    pub(crate) fn sparse(&self) -> Vec<u32> {
        let st = self.state();
        let active = st.active.as_ref().map(|a| a.segment);
        let mut v: Vec<(u64, u32)> = st
            .ends
            .iter()
            .filter(|(s, _)| Some(**s) != active && !st.doomed.contains(s))
            .filter_map(|(s, end)| {
                let live = st.live.get(s).copied().unwrap_or(0);
                (live * 2 < *end && end - live >= RECLAIM_MIN_DEAD).then_some((live, *s))
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// Reserves room for a record of `span` bytes in the active segment,
    /// opening a new one when it is full.
    fn reserve(&self, span: u64) -> Result<(u32, Arc<File>, u64), StoreError> {
        let mut guard = self.state();
        let st = &mut *guard;
        if st
            .active
            .as_ref()
            .is_some_and(|a| a.next + span > SEGMENT_SIZE)
        {
            // Closed: if its records all went while it was being written,
            // nothing else would ever delete it before the next open.
            if let Some(a) = st.active.take() {
                if st.live.get(&a.segment).copied().unwrap_or(0) == 0 {
                    st.live.remove(&a.segment);
                    st.doomed.insert(a.segment);
                }
            }
        }
        let a = match &mut st.active {
            Some(a) => a,
            empty => {
                let segment = st.next_segment;
                let file = self
                    .open_file(segment, true)
                    .map_err(|e| io("cannot create", &self.path(segment), e))?;
                empty.insert(Active {
                    segment,
                    file: Arc::new(file),
                    next: 0,
                    allocated: 0,
                })
            }
        };
        let offset = a.next;
        if offset + span > a.allocated {
            let want = (offset + span - a.allocated).max(PREALLOCATE);
            preallocate(&a.file, a.allocated, want)
                .map_err(|e| io("cannot reserve space in", &self.path(a.segment), e))?;
            a.allocated += want;
        }
        a.next += span;
        let (segment, file, end) = (a.segment, a.file.clone(), a.next);
        // A segment opened just now: number and handle are taken.
        if segment == st.next_segment {
            st.next_segment += 1;
            st.files.insert(segment, file.clone());
        }
        st.ends.insert(segment, end);
        // Live from its reservation on, not from its location's commit: a
        // segment must never be deleted while a record in it is on its way
        // into the index. (A put whose batch then fails leaves the count
        // high until the next open recounts it: space kept, never lost.)
        *st.live.entry(segment).or_insert(0) += span;
        st.in_flight.entry(segment).or_default().insert(offset);
        Ok((segment, file, offset))
    }

    /// Bytes appended since the last sync began.
    pub(crate) fn unsynced(&self) -> u64 {
        self.unsynced.load(Ordering::Relaxed)
    }

    /// A location gone from the index: a segment left without live records
    /// (and no longer written to) is deleted after the next flush.
    pub(crate) fn removed(&self, loc: &Location) {
        let mut st = self.state();
        let active = st.active.as_ref().map(|a| a.segment);
        let live = st.live.entry(loc.segment).or_insert(0);
        *live = live.saturating_sub(loc.span());
        if *live == 0 && active != Some(loc.segment) {
            st.live.remove(&loc.segment);
            st.doomed.insert(loc.segment);
        }
    }
}

impl Segments {
    /// Queues `bytes` as `id`'s record for the writer; readable at once,
    /// durable after the next [`Inner::sync`]. It counts as live from here
    /// on; the caller records the location.
    pub(crate) fn append(&self, id: &ShardId, bytes: &[u8]) -> Result<Location, StoreError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| StoreError::Engine(format!("a {} byte shard", bytes.len())))?;
        let span = align_up(HEADER + bytes.len());
        let mut b = writer::spare();
        let buf = b.resize(span);
        buf[..HEADER].copy_from_slice(&header(id, len));
        buf[HEADER..HEADER + bytes.len()].copy_from_slice(bytes);
        buf[HEADER + bytes.len()..].fill(0);
        let buf = Arc::new(b);
        // Numbered and queued under the queue's lock, so the writer sees
        // records in `seq` order (a sync waits for a number, not a set).
        // The writer starts before anything is reserved for it.
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            let started = Writer::start(self.inner.clone())
                .map_err(|e| StoreError::Engine(format!("cannot start the segment writer: {e}")))?;
            *w = Some(started);
        }
        let (segment, file, offset) = self.reserve(span as u64)?;
        self.unsynced.fetch_add(span as u64, Ordering::Relaxed);
        let seq = {
            let mut st = self.state();
            st.pending.insert((segment, offset), buf.clone());
            st.submitted += 1;
            st.submitted
        };
        let job = Job {
            segment,
            offset,
            file,
            buf,
            seq,
        };
        let sent = w.as_ref().map(|w| w.tx.send(job));
        if let Some(Err(e)) = sent {
            // The writer is gone (it panicked): write here instead.
            let job = e.0;
            let wrote = job.file.write_all_at(job.buf.as_slice(), job.offset);
            self.written(&job, wrote);
        }
        Ok(Location {
            segment,
            offset,
            len,
        })
    }
}

/// Reserves `len` bytes of `file` from `offset` (the file grows to cover
/// them). File systems without `fallocate` just let writes extend the file.
fn preallocate(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fallocate only reads its integer arguments; the fd is open.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            0,
            offset as libc::off_t,
            len as libc::off_t,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(()),
        _ => Err(e),
    }
}

/// Whether a record's bytes may not have been synced before a crash: it
/// ends past its segment's mark.
pub(crate) fn past_mark(loc: &Location, marks: &HashMap<u32, u64>) -> bool {
    loc.end() > marks.get(&loc.segment).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests;
