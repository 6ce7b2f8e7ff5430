//! Where a restored file's bytes go. A file of 1 MiB or more is written with
//! `O_DIRECT` through one aligned buffer where the file system allows it;
//! smaller files, and the last part of a larger one that is not a whole
//! block, go through the page cache.
//!
//! Why: a restore writes bytes nobody has read yet, and through the page cache
//! every page of them is memory the kernel hands out for the first time. On a
//! VM whose balloon reports free pages to the host, that first touch faults on
//! the host: the restore's single writer thread spent 40% of the restore's CPU
//! in the kernel's page-cache copy, and restores ran at the page cache's
//! first-write rate (0.4-2.2 GB/s here, from run to run), not at decryption's.
//!
//! That is also why "the first restore" looked slow: a restore runs fast
//! only when the previous one's output was just deleted and its pages are
//! reused. Restoring 1 GiB of 2 MiB files four times in one daemon, keeping
//! each output: 588, 340, 385, 393 MB/s; deleting each before the next: 366,
//! 1,084, 1,009, 1,321 MB/s. With direct writes from 1 MiB (8 MiB before),
//! the same runs gave 582-663 and 495-586 MB/s, whatever the page cache
//! holds: the disk's pace (`shardnet bench` put its read + write at
//! 769-848 MB/s on that day).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Files at least this large are written directly (the module doc has
/// the measurements).
pub(super) const DIRECT_FROM: u64 = 1 << 20;
/// Direct writes must start, end and sit in memory on this boundary.
const ALIGN: usize = 4096;
/// The aligned buffer: one direct write per 4 MiB.
const BUF: usize = 4 << 20;

/// A new regular file being restored, written in order.
pub(super) struct Output {
    f: File,
    direct: Option<Aligned>,
}

/// A `BUF`-byte window of a vector, aligned to `ALIGN` (no unsafe code).
/// One is kept across the files of a restore ([`Output::finish`] hands it
/// back), so its pages are touched once, not once per file.
pub(super) struct Aligned {
    raw: Vec<u8>,
    off: usize,
    filled: usize,
}

impl Aligned {
    fn new() -> Self {
        let raw = vec![0u8; BUF + ALIGN];
        let off = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        Aligned {
            raw,
            off,
            filled: 0,
        }
    }

    fn buf(&self) -> &[u8] {
        &self.raw[self.off..self.off + BUF]
    }
}

/// Sets or clears `O_DIRECT` on `f`; false where the file system refuses it.
fn set_direct(f: &File, on: bool) -> bool {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor this `File` owns; F_GETFL/F_SETFL read
    // and set status flags only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let want = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, want) == 0
    }
}

impl Output {
    /// `size` is the file's size in the manifest: only large files go direct,
    /// through the buffer in `spare` if there is one.
    pub(super) fn new(f: File, size: u64, spare: &mut Option<Aligned>) -> Self {
        let direct = (size >= DIRECT_FROM && set_direct(&f, true)).then(|| {
            let mut a = spare.take().unwrap_or_else(Aligned::new);
            a.filled = 0;
            a
        });
        Output { f, direct }
    }

    pub(super) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let Some(a) = &mut self.direct else {
                return self.f.write_all(data);
            };
            let n = (BUF - a.filled).min(data.len());
            let at = a.off + a.filled;
            a.raw[at..at + n].copy_from_slice(&data[..n]);
            a.filled += n;
            data = &data[n..];
            if a.filled == BUF {
                self.flush_direct(BUF)?;
            }
        }
        Ok(())
    }

    /// Writes the first `len` (a multiple of `ALIGN`) buffered bytes directly
    /// and keeps the rest. A file system that takes `O_DIRECT` at open but
    /// refuses the write (`EINVAL`) gets this and every later byte buffered.
    fn flush_direct(&mut self, len: usize) -> io::Result<()> {
        let Some(a) = &mut self.direct else {
            return Ok(());
        };
        let chunk = &a.raw[a.off..a.off + len];
        match self.f.write_all(chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && set_direct(&self.f, false) => {
                self.f.write_all(chunk)?;
                let rest = a.raw[a.off + len..a.off + a.filled].to_vec();
                self.direct = None;
                return self.f.write_all(&rest);
            }
            Err(e) => return Err(e),
        }
        a.raw.copy_within(a.off + len..a.off + a.filled, a.off);
        a.filled -= len;
        Ok(())
    }

    /// Writes what is left and returns the file, back in buffered mode; the
    /// aligned buffer goes back to `spare` for the next file.
    pub(super) fn finish(mut self, spare: &mut Option<Aligned>) -> io::Result<File> {
        if let Some(filled) = self.direct.as_ref().map(|a| a.filled) {
            self.flush_direct(filled / ALIGN * ALIGN)?;
        }
        if let Some(a) = self.direct.take() {
            if !set_direct(&self.f, false) {
                return Err(io::Error::other("could not leave O_DIRECT mode"));
            }
            self.f.write_all(&a.buf()[..a.filled])?;
            *spare = Some(a);
        }
        Ok(self.f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_buffered_writes_give_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(BUF * 2 + 12_345) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut spare = None;
        // The second direct file reuses the first one's buffer.
        for (name, size) in [
            ("direct", DIRECT_FROM),
            ("again", DIRECT_FROM),
            ("buffered", 1),
        ] {
            let path = dir.path().join(name);
            let mut out = Output::new(File::create(&path).unwrap(), size, &mut spare);
            // Uneven pieces: the buffer fills across calls.
            for piece in data.chunks(1_000_003) {
                out.write(piece).unwrap();
            }
            out.finish(&mut spare).unwrap();
            assert!(std::fs::read(&path).unwrap() == data, "{name}");
        }
    }

    #[test]
    fn a_file_smaller_than_a_block_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut spare = None;
        let mut out = Output::new(File::create(&path).unwrap(), DIRECT_FROM, &mut spare);
        out.write(b"tiny").unwrap();
        out.finish(&mut spare).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"tiny");
    }
}
