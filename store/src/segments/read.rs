//! Reading a segment record back: from the writer's queue while it waits
//! there, else with one aligned read into a reused buffer; the header is
//! checked here, the payload's hash by the caller.

use super::record::{check_header, AlignedBuf, HEADER};
use super::{io, Inner, Location, ReadError, OPEN_FILES};
use shardnet_protocol::ShardId;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

thread_local! {
    /// Each reading thread's record buffer, reused: a fresh zeroed 1 MiB
    /// buffer per read is work a restore does not need.
    static READ_BUF: std::cell::RefCell<AlignedBuf> = std::cell::RefCell::new(AlignedBuf::new());
}

impl Inner {
    /// Reads `id`'s record at `loc` and returns its payload (not yet
    /// hashed: the caller checks it against the id).
    pub(crate) fn read(&self, id: &ShardId, loc: &Location) -> Result<Vec<u8>, ReadError> {
        let queued = self
            .state()
            .pending
            .get(&(loc.segment, loc.offset))
            .cloned();
        if let Some(b) = queued {
            return payload(b.as_slice(), id, loc);
        }
        let file = self.file(loc.segment)?;
        READ_BUF.with(|b| {
            let mut b = b.borrow_mut();
            let buf = b.resize(loc.span() as usize);
            match file.read_exact_at(buf, loc.offset) {
                Ok(()) => payload(buf, id, loc),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Err(ReadError::Bad("its segment record is cut short".into()))
                }
                // A failed sector is a bad copy, as RocksDB's corruption was.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    Err(ReadError::Bad(format!("reading its segment failed: {e}")))
                }
                Err(e) => Err(ReadError::Io(io("cannot read", &self.path(loc.segment), e))),
            }
        })
    }

    fn file(&self, segment: u32) -> Result<Arc<File>, ReadError> {
        if let Some(f) = self.state().files.get(&segment) {
            return Ok(f.clone());
        }
        let f = match self.open_file(segment, false) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ReadError::Bad(format!(
                    "its segment file {segment:08}.seg is missing"
                )))
            }
            Err(e) => return Err(ReadError::Io(io("cannot open", &self.path(segment), e))),
        };
        let mut st = self.state();
        if st.files.len() >= OPEN_FILES {
            // Close the read handles (the active segment's stays).
            let active = st.active.as_ref().map(|a| a.segment);
            st.files.retain(|s, _| Some(*s) == active);
        }
        st.files.insert(segment, f.clone());
        Ok(f)
    }
}

/// The payload of `id`'s record read into `buf`, checked against its header.
fn payload(buf: &[u8], id: &ShardId, loc: &Location) -> Result<Vec<u8>, ReadError> {
    if buf.len() != loc.span() as usize {
        return Err(ReadError::Bad(
            "its segment record has another length".into(),
        ));
    }
    if let Some(why) = check_header(buf, id, loc.len) {
        return Err(ReadError::Bad(why));
    }
    Ok(buf[HEADER..HEADER + loc.len as usize].to_vec())
}
