//! The chunk stream: every file of a walk, in order, cut by FastCDC into
//! chunks, with the reading and hashing spread over every core.
//!
//! Why: the stream is one iterator under rayon's `par_bridge` lock, and it
//! used to read and gear-hash every byte itself. That serial stage took a
//! quarter of a backup's CPU, and the other core waited for it (stop 40's
//! profile: 2/3 of the workers' sleeps were on this lock). Now the iterator
//! hands out two kinds of [`Work`], which any thread does outside the lock:
//! - [`Scan`]: read one block of a file (`pread`, so blocks are read side
//!   by side) and find its hits ([`gear::hits`]), which do not depend on
//!   where chunks start;
//! - [`Cut`]: copy one chunk's bytes out of the blocks that hold it, to be
//!   sealed where they lie.
//!
//! Under the lock, the stream only places cuts from the hits
//! ([`gear::cut_from_hits`], a few hundred operations per chunk). The cuts
//! are the serial chunker's (tested below against
//! `shardnet_protocol::chunking::boundaries`), so dedup is unchanged.
//!
//! Memory: blocks are read at most [`window`] bytes past the next cut, and
//! a block's buffer goes back to a [`Pool`] once no chunk needs it, so the
//! buffers are allocated (and their pages touched) once per backup.
//!
//! A file is read up to the length it had when opened; one that shrinks
//! meanwhile ends where a read first comes back short.

mod blocks;

use super::walk::{open_walked, FileJob};
pub(crate) use blocks::Scan;
use blocks::{copy_range, Block, Board, Pool};
use shardnet_protocol::chunking::{MAX_CHUNK, MIN_CHUNK};
use shardnet_protocol::envelope::{HEADROOM, TAG_LEN};
use shardnet_protocol::gear::{self, Hit, LEAD};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::sync::{Arc, Mutex};

/// Bytes read and scanned as one piece of work.
const BLOCK: u64 = 1 << 20;

/// How far past the next cut blocks are read: the maximum chunk (a cut
/// needs that much in view), and two blocks per thread in flight.
fn window(threads: usize) -> u64 {
    MAX_CHUNK as u64 + 2 * BLOCK * threads.clamp(1, 4) as u64
}

/// One chunk of one file.
pub(crate) struct Chunk {
    pub(crate) file: usize,
    pub(crate) index: usize,
    /// `envelope::HEADROOM` bytes of room, then the chunk's bytes, with
    /// capacity for the tag: sealed where it lies (`envelope::seal_in_place`).
    pub(crate) data: Vec<u8>,
}

impl Chunk {
    /// The chunk's bytes.
    pub(crate) fn plain(&self) -> &[u8] {
        &self.data[HEADROOM..]
    }
}

/// A piece of work the stream hands out, for any thread to do.
pub(crate) enum Work {
    Scan(Scan),
    Cut(Cut),
}

/// Copy one chunk out of its blocks.
pub(crate) struct Cut {
    file: usize,
    index: usize,
    start: u64,
    end: u64,
    blocks: Vec<Arc<Block>>,
}

impl Cut {
    pub(crate) fn len(&self) -> u64 {
        self.end - self.start
    }

    pub(crate) fn chunk(self) -> Chunk {
        let mut data = Vec::with_capacity(HEADROOM + self.len() as usize + TAG_LEN);
        data.resize(HEADROOM, 0);
        copy_range(self.blocks.iter(), self.start, self.end, &mut data);
        Chunk {
            file: self.file,
            index: self.index,
            data,
        }
    }
}

/// The file being cut.
struct Open {
    file: usize,
    src: Arc<File>,
    /// Its length when opened: blocks are read up to there.
    size: u64,
    /// Next chunk's index and start.
    index: usize,
    start: u64,
    /// Scanned blocks, contiguous, from the one holding `start` on.
    blocks: VecDeque<Arc<Block>>,
    /// Scans handed out and not yet collected, in file order.
    pending: VecDeque<u64>,
    next_off: u64,
    /// The end of the input, once known.
    end: Option<u64>,
}

impl Open {
    /// End of the bytes scanned and collected.
    fn seen(&self) -> u64 {
        self.blocks.back().map_or(self.start, |b| b.end())
    }
}

pub(crate) struct ChunkStream<'a> {
    files: &'a [FileJob],
    next_file: usize,
    current: Option<Open>,
    board: Arc<Board>,
    pool: Arc<Pool>,
    next_seq: u64,
    window: u64,
    /// Files that failed to open or read part-way: file index → reason.
    errors: &'a Mutex<HashMap<usize, String>>,
}

impl<'a> ChunkStream<'a> {
    /// A stream for `threads` threads.
    pub(crate) fn new(
        files: &'a [FileJob],
        errors: &'a Mutex<HashMap<usize, String>>,
        threads: usize,
    ) -> Self {
        let window = window(threads);
        ChunkStream {
            files,
            next_file: 0,
            current: None,
            board: Arc::default(),
            // The window's blocks, one more per thread in a scan or a
            // chunk's copy, and one behind the next cut.
            pool: Arc::new(Pool::new((window / BLOCK) as usize + threads + 1)),
            next_seq: 0,
            window,
            errors,
        }
    }

    fn fail(&mut self, file: usize, reason: String) {
        if let Some(o) = self.current.take() {
            self.board.abandon(o.pending.into_iter());
        }
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(file, reason);
    }

    /// Opens the next file; `false` when there is none.
    fn open_next(&mut self) -> bool {
        let Some(job) = self.files.get(self.next_file) else {
            return false;
        };
        let file = self.next_file;
        self.next_file += 1;
        match open_walked(job).and_then(|f| Ok((f.metadata()?.len(), f))) {
            Ok((size, f)) => {
                self.current = Some(Open {
                    file,
                    src: Arc::new(f),
                    size,
                    index: 0,
                    start: 0,
                    blocks: VecDeque::new(),
                    pending: VecDeque::new(),
                    next_off: 0,
                    end: None,
                })
            }
            Err(e) => self.fail(file, e.to_string()),
        }
        true
    }

    /// Moves finished scans, in file order, from the board to the file's
    /// blocks; `Err` if a read failed.
    fn collect(&mut self) -> Result<(), String> {
        let Some(o) = &mut self.current else {
            return Ok(());
        };
        let mut st = self.board.lock();
        while let Some(&seq) = o.pending.front() {
            let Some(posted) = st.done.remove(&seq) else {
                break;
            };
            o.pending.pop_front();
            let block = posted.map_err(|e| format!("read failed: {e}"))?;
            let short = block.end() < block.off + BLOCK.min(o.size - block.off);
            o.blocks.push_back(Arc::new(block));
            if short {
                // Shrunk since it was opened: it ends here.
                o.end = Some(o.seen());
                o.next_off = o.size;
                st.abandon(o.pending.drain(..));
            }
        }
        if o.pending.is_empty() && o.next_off >= o.size && o.end.is_none() {
            o.end = Some(o.seen());
        }
        Ok(())
    }

    /// The next chunk of the open file, if its cut is in view.
    fn cut(o: &mut Open) -> Option<Cut> {
        let seen = o.seen();
        let view = match o.end {
            Some(end) => end - o.start,
            None if seen >= o.start + MAX_CHUNK as u64 => seen - o.start,
            None => return None,
        };
        let head_from = o.start + MIN_CHUNK as u64;
        let mut head = Vec::with_capacity(LEAD);
        copy_range(
            o.blocks.iter(),
            head_from,
            head_from + LEAD as u64,
            &mut head,
        );
        let (lo, hi) = (head_from + LEAD as u64, o.start + MAX_CHUNK as u64);
        let hits: Vec<Hit> = o
            .blocks
            .iter()
            .filter(|b| b.off < hi && b.end() > lo)
            .flat_map(|b| b.hits.iter().copied())
            .filter(|h| h.pos >= lo && h.pos < hi)
            .collect();
        let n = gear::cut_from_hits(o.start, view, &head, &hits);
        let (start, end) = (o.start, o.start + n);
        let cut = Cut {
            file: o.file,
            index: o.index,
            start,
            end,
            blocks: o
                .blocks
                .iter()
                .filter(|b| b.off < end && b.end() > start)
                .cloned()
                .collect(),
        };
        o.start = end;
        o.index += 1;
        while o.blocks.front().is_some_and(|b| b.end() <= end) {
            o.blocks.pop_front();
        }
        Some(cut)
    }

    /// A scan of the open file's next block, if within the window.
    fn scan(&mut self) -> Option<Scan> {
        let o = self.current.as_mut()?;
        if o.next_off >= o.size || o.next_off >= o.start + self.window {
            return None;
        }
        let len = BLOCK.min(o.size - o.next_off);
        let seq = self.next_seq;
        self.next_seq += 1;
        o.pending.push_back(seq);
        let scan = Scan {
            board: self.board.clone(),
            pool: self.pool.clone(),
            file: o.src.clone(),
            seq,
            off: o.next_off,
            len,
            posted: false,
        };
        o.next_off += len;
        Some(scan)
    }

    /// Waits until the open file's oldest scan is posted.
    fn wait(&self) {
        let Some(&seq) = self.current.as_ref().and_then(|o| o.pending.front()) else {
            return;
        };
        let mut st = self.board.lock();
        while !st.done.contains_key(&seq) {
            st = self
                .board
                .posted
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Iterator for ChunkStream<'_> {
    type Item = Work;

    fn next(&mut self) -> Option<Work> {
        loop {
            let Some(file) = self.current.as_ref().map(|o| o.file) else {
                if !self.open_next() {
                    return None;
                }
                continue;
            };
            if let Err(reason) = self.collect() {
                self.fail(file, reason);
                continue;
            }
            let o = self.current.as_mut()?;
            if o.end.is_some_and(|end| o.start >= end) {
                self.current = None;
                continue;
            }
            if let Some(cut) = Self::cut(o) {
                return Some(Work::Cut(cut));
            }
            if let Some(scan) = self.scan() {
                return Some(Work::Scan(scan));
            }
            // Everything in the window is being scanned by other threads:
            // each runs its scan before it asks for more, so this ends.
            self.wait();
        }
    }
}

#[cfg(test)]
mod tests;
