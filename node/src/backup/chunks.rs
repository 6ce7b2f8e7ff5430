//! The chunk stream: every file of a walk, in order, cut by FastCDC into chunks.
//! It is one iterator so that rayon's `par_bridge` can pull from it while other
//! threads seal earlier chunks: reading and chunking stay sequential (one reader
//! on the disk), sealing runs on every core, and at most one chunk per worker is
//! in memory besides the read buffer.
//!
//! Why not `fastcdc::v2020::StreamCDC`: it drains its buffer after every chunk,
//! moving the remaining ~3 MiB to the front and zero-filling the rest, which cost
//! more CPU than the chunking itself (measured with perf). Here one 16 MiB buffer
//! is refilled only when less than a maximum chunk remains, and the cut points
//! are the same (`cut_points_match_slice_chunker` below).

use super::walk::FileJob;
use shardnet_protocol::chunking::{AVG_CHUNK, MAX_CHUNK, MIN_CHUNK};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::sync::Mutex;

/// Read buffer: four maximum chunks, so a refill moves at most a quarter of it.
const BUF_LEN: usize = 4 * MAX_CHUNK as usize;

/// One chunk of one file.
pub(crate) struct Chunk {
    pub(crate) file: usize,
    pub(crate) index: usize,
    pub(crate) data: Vec<u8>,
}

/// Cuts one reader into content-defined chunks through a reusable buffer.
pub(crate) struct Chunker {
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    eof: bool,
}

impl Chunker {
    pub(crate) fn new() -> Self {
        Chunker {
            buf: vec![0; BUF_LEN],
            start: 0,
            filled: 0,
            eof: true,
        }
    }

    /// Starts on a new source (the buffer is kept).
    fn reset(&mut self) {
        self.start = 0;
        self.filled = 0;
        self.eof = false;
    }

    /// The next chunk of `src`, or `None` at its end.
    pub(crate) fn next_chunk(&mut self, src: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
        if self.filled - self.start < MAX_CHUNK as usize && !self.eof {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
            while self.filled < self.buf.len() {
                match src.read(&mut self.buf[self.filled..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let avail = &self.buf[self.start..self.filled];
        if avail.is_empty() {
            return Ok(None);
        }
        // With at least MAX_CHUNK bytes (or the end of input) in view, this cut
        // is the one a chunker over the whole input would make.
        let (_, len) = fastcdc::v2020::FastCDC::new(avail, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
            .cut(0, avail.len());
        let len = len.clamp(1, avail.len());
        self.start += len;
        Ok(Some(avail[..len].to_vec()))
    }
}

pub(crate) struct ChunkStream<'a> {
    files: &'a [FileJob],
    next_file: usize,
    chunker: Chunker,
    current: Option<(usize, usize, File)>,
    /// Files that failed to open or read part-way: file index → reason.
    errors: &'a Mutex<HashMap<usize, String>>,
}

impl<'a> ChunkStream<'a> {
    pub(crate) fn new(files: &'a [FileJob], errors: &'a Mutex<HashMap<usize, String>>) -> Self {
        ChunkStream {
            files,
            next_file: 0,
            chunker: Chunker::new(),
            current: None,
            errors,
        }
    }

    fn fail(&self, file: usize, reason: String) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(file, reason);
    }
}

impl Iterator for ChunkStream<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        loop {
            if let Some((file, index, f)) = &mut self.current {
                let (file, i) = (*file, *index);
                match self.chunker.next_chunk(f) {
                    Ok(Some(data)) => {
                        *index += 1;
                        return Some(Chunk {
                            file,
                            index: i,
                            data,
                        });
                    }
                    Ok(None) => self.current = None,
                    Err(e) => {
                        self.fail(file, format!("read failed: {e}"));
                        self.current = None;
                    }
                }
                continue;
            }
            let file = self.next_file;
            let job = self.files.get(file)?;
            self.next_file += 1;
            match File::open(&job.source) {
                Ok(f) => {
                    self.chunker.reset();
                    self.current = Some((file, 0, f));
                }
                Err(e) => self.fail(file, e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns short reads, as pipes and network file systems do.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.1).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn cut_points_match_slice_chunker() {
        let mut data = vec![0u8; 23 << 20];
        blake3::Hasher::new().finalize_xof().fill(&mut data);
        // A long run of zeros forces maximum-size chunks.
        data[3 << 20..12 << 20].fill(0);
        let want = shardnet_protocol::chunking::boundaries(&data);
        for step in [usize::MAX, 1_000_003, 65_536] {
            let mut c = Chunker::new();
            c.reset();
            let mut src = Trickle(&data, step);
            let mut got = Vec::new();
            let mut off = 0;
            while let Some(chunk) = c.next_chunk(&mut src).unwrap() {
                assert_eq!(&data[off..off + chunk.len()], &chunk[..]);
                got.push((off, chunk.len()));
                off += chunk.len();
            }
            assert_eq!(got, want, "read size {step}");
        }
        let mut c = Chunker::new();
        c.reset();
        assert!(c.next_chunk(&mut &b""[..]).unwrap().is_none());
    }
}
