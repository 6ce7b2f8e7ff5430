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
//! are the same (`cut_points_match_slice_chunker` below). The cut itself is
//! `protocol::gear`'s: FastCDC's, found four lanes at a time.

use super::walk::FileJob;
use shardnet_protocol::chunking::MAX_CHUNK;
use shardnet_protocol::envelope::{HEADROOM, TAG_LEN};
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

    /// The next chunk of `src`, or `None` at its end, after `HEADROOM`
    /// bytes of room (see [`Chunk::data`]).
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
        let len = shardnet_protocol::gear::cut(avail).clamp(1, avail.len());
        self.start += len;
        let mut chunk = Vec::with_capacity(HEADROOM + len + TAG_LEN);
        chunk.resize(HEADROOM, 0);
        chunk.extend_from_slice(&avail[..len]);
        Ok(Some(chunk))
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
            match open_walked(job) {
                Ok(f) => {
                    self.chunker.reset();
                    self.current = Some((file, 0, f));
                }
                Err(e) => self.fail(file, e.to_string()),
            }
        }
    }
}

/// Opens a file the walk found, as that file: without following a symlink
/// swapped in since (`O_NOFOLLOW`), without blocking on a FIFO swapped in
/// (`O_NONBLOCK`; reads of regular files never block on it), and only if
/// the descriptor's device and inode are the walk's.
pub(crate) fn open_walked(job: &FileJob) -> std::io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&job.source)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => {
                std::io::Error::other("replaced by a symlink since the walk: not followed, skipped")
            }
            _ => e,
        })?;
    let m = f.metadata()?;
    if !m.file_type().is_file() || m.dev() != job.dev || m.ino() != job.ino {
        return Err(std::io::Error::other(
            "replaced since the walk (by another file, a pipe or a device): skipped",
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked_file(dir: &std::path::Path) -> FileJob {
        std::fs::write(dir.join("f"), b"data").unwrap();
        let mut w = super::super::walk::walk(&[dir.to_path_buf()], &[]).unwrap();
        w.files.pop().unwrap()
    }

    #[test]
    fn a_file_swapped_after_the_walk_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let job = walked_file(dir.path());
        open_walked(&job).unwrap();
        // Kept alive, so that no later file can get its inode number.
        std::fs::hard_link(&job.source, dir.path().join("keep")).unwrap();
        // A FIFO in its place: refused at once (a plain open would block).
        std::fs::remove_file(&job.source).unwrap();
        let c = std::ffi::CString::new(job.source.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_walked(&job).unwrap_err().to_string();
        assert!(e.contains("replaced since the walk"), "{e}");
        // A symlink to a secret: not followed.
        std::fs::remove_file(&job.source).unwrap();
        std::fs::write(dir.path().join("secret"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), &job.source).unwrap();
        let e = open_walked(&job).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        // Another regular file under the same name: another inode.
        std::fs::remove_file(&job.source).unwrap();
        std::fs::write(&job.source, b"other").unwrap();
        assert!(open_walked(&job).is_err());
    }

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
                let chunk = &chunk[HEADROOM..];
                assert_eq!(&data[off..off + chunk.len()], chunk);
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
