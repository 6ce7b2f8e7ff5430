//! Blocks of a file, read and scanned by any thread, and the board where
//! the chunk stream collects them in file order. Split from the stream
//! itself ([`super`]), which only places cuts.

use super::BLOCK;
use shardnet_protocol::gear::{self, Hit, LEAD};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Read one block and find its hits; the stream collects the result.
pub(crate) struct Scan {
    pub(super) board: Arc<Board>,
    pub(super) pool: Arc<Pool>,
    pub(super) file: Arc<File>,
    pub(super) seq: u64,
    pub(super) off: u64,
    pub(super) len: u64,
    /// Set once the result is on the board.
    pub(super) posted: bool,
}

impl Drop for Scan {
    /// A scan dropped without running still posts, so the stream, which may
    /// be waiting for it, never waits forever.
    fn drop(&mut self) {
        if !self.posted {
            let gone = std::io::Error::other("the read of this block was dropped");
            self.board.post(self.seq, Err(gone));
        }
    }
}

impl Scan {
    pub(crate) fn run(mut self) {
        let lead = (LEAD as u64).min(self.off);
        let buf = self.pool.take();
        let result = read_block(buf, &self.file, self.off - lead, lead + self.len).map(|buf| {
            let lead = (lead as usize).min(buf.len());
            let mut hits = Vec::new();
            gear::hits(&buf[..lead], &buf[lead..], self.off, &mut hits);
            Block {
                off: self.off,
                lead,
                buf,
                hits,
                pool: self.pool.clone(),
            }
        });
        self.board.post(self.seq, result);
        self.posted = true;
    }
}

/// Reads up to `len` bytes at `off` into `buf`: fewer only at the file's
/// end. Only bytes past the buffer's earlier length are zeroed first.
fn read_block(mut buf: Vec<u8>, f: &File, off: u64, len: u64) -> std::io::Result<Vec<u8>> {
    buf.resize(len as usize, 0);
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// One block of a file, read and scanned.
pub(crate) struct Block {
    pub(super) off: u64,
    /// Bytes before `off` read for the hash window.
    lead: usize,
    buf: Vec<u8>,
    pub(super) hits: Vec<Hit>,
    pool: Arc<Pool>,
}

impl Drop for Block {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// Block buffers for reuse: at most as many as a stream holds at once.
pub(crate) struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Pool {
    pub(super) fn new(keep: usize) -> Self {
        Pool {
            free: Mutex::default(),
            keep,
        }
    }

    fn take(&self) -> Vec<u8> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        free.pop()
            .unwrap_or_else(|| Vec::with_capacity(LEAD + BLOCK as usize))
    }

    fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.keep && buf.capacity() >= LEAD + BLOCK as usize {
            free.push(buf);
        }
    }
}

impl Block {
    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.lead..]
    }
    pub(super) fn end(&self) -> u64 {
        self.off + self.data().len() as u64
    }
}

/// Appends the bytes `from..to` of contiguous blocks that hold them.
pub(super) fn copy_range<'b>(
    blocks: impl Iterator<Item = &'b Arc<Block>>,
    from: u64,
    to: u64,
    out: &mut Vec<u8>,
) {
    for b in blocks {
        let (lo, hi) = (from.max(b.off), to.min(b.end()));
        if lo < hi {
            out.extend_from_slice(&b.data()[(lo - b.off) as usize..(hi - b.off) as usize]);
        }
    }
}

type Posted = std::io::Result<Block>;

/// Where scans leave their blocks for the stream.
#[derive(Default)]
pub(crate) struct Board {
    state: Mutex<BoardState>,
    pub(super) posted: Condvar,
}

#[derive(Default)]
pub(super) struct BoardState {
    pub(super) done: HashMap<u64, Posted>,
    /// Scans whose file the stream has left: their blocks are dropped.
    abandoned: HashSet<u64>,
}

impl BoardState {
    /// Drops the blocks of `seqs`: those posted now, the others when posted.
    pub(super) fn abandon(&mut self, seqs: impl Iterator<Item = u64>) {
        for seq in seqs {
            if self.done.remove(&seq).is_none() {
                self.abandoned.insert(seq);
            }
        }
    }
}

impl Board {
    pub(super) fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn post(&self, seq: u64, result: Posted) {
        let mut st = self.lock();
        if !st.abandoned.remove(&seq) {
            st.done.insert(seq, result);
        }
        drop(st);
        self.posted.notify_all();
    }

    pub(super) fn abandon(&self, seqs: impl Iterator<Item = u64>) {
        self.lock().abandon(seqs);
    }
}
