//! The segment writer: one thread per store that writes records while the
//! threads that sealed or received them go on hashing and sealing. With the
//! write in the caller, a backup's two cores sat idle during every 1 MiB
//! direct write (66% busy, and a 2 GiB file at 463 against 633 MB/s through
//! RocksDB's background flushes). Records wait in a short queue (the
//! caller blocks when it is full), stay readable from memory until written,
//! and a sync first waits for every record queued before it.

use super::record::AlignedBuf;
use super::Inner;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Records queued for the writer (about 1 MiB each): enough to keep the
/// disk busy while the callers seal the next ones.
const QUEUE: usize = 4;

/// One record to write.
pub(super) struct Job {
    pub(super) segment: u32,
    pub(super) offset: u64,
    pub(super) file: Arc<File>,
    pub(super) buf: Arc<AlignedBuf>,
    /// Its place in the queue's order ([`super::State::submitted`]).
    pub(super) seq: u64,
}

/// The running writer: its queue and its thread.
pub(super) struct Writer {
    pub(super) tx: SyncSender<Job>,
    pub(super) thread: JoinHandle<()>,
}

impl Writer {
    pub(super) fn start(inner: Arc<Inner>) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("segment-writer".into())
            .spawn(move || run(&inner, rx))?;
        Ok(Writer { tx, thread })
    }
}

fn run(inner: &Inner, rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        let wrote = job.file.write_all_at(job.buf.as_slice(), job.offset);
        inner.written(&job, wrote);
        if let Ok(buf) = Arc::try_unwrap(job.buf) {
            recycle(buf);
        }
    }
}

/// Record buffers to reuse, for every store of the process: a fresh 1 MiB
/// buffer per record would fault in new pages every time, and a pool per
/// store would hold megabytes for each of the simulator's hundreds.
static SPARE: Mutex<Vec<AlignedBuf>> = Mutex::new(Vec::new());

/// A record buffer, reused when one is spare.
pub(super) fn spare() -> AlignedBuf {
    let mut s = SPARE.lock().unwrap_or_else(|p| p.into_inner());
    s.pop().unwrap_or_else(AlignedBuf::new)
}

fn recycle(buf: AlignedBuf) {
    let mut s = SPARE.lock().unwrap_or_else(|p| p.into_inner());
    if s.len() < QUEUE + 2 {
        s.push(buf);
    }
}
