//! The chunk stream: every file of a walk, in order, cut by FastCDC into chunks.
//! It is one iterator so that rayon's `par_bridge` can pull from it while other
//! threads seal earlier chunks: reading and chunking stay sequential (one reader
//! on the disk), sealing runs on every core, and at most one chunk per worker is
//! in memory.

use super::walk::FileJob;
use shardnet_protocol::chunking::{AVG_CHUNK, MAX_CHUNK, MIN_CHUNK};
use std::collections::HashMap;
use std::fs::File;
use std::sync::Mutex;

/// One chunk of one file.
pub(crate) struct Chunk {
    pub(crate) file: usize,
    pub(crate) index: usize,
    pub(crate) data: Vec<u8>,
}

pub(crate) struct ChunkStream<'a> {
    files: &'a [FileJob],
    next_file: usize,
    current: Option<(usize, usize, fastcdc::v2020::StreamCDC<File>)>,
    /// Files that failed to open or read part-way: file index → reason.
    pub(crate) errors: &'a Mutex<HashMap<usize, String>>,
}

impl<'a> ChunkStream<'a> {
    pub(crate) fn new(files: &'a [FileJob], errors: &'a Mutex<HashMap<usize, String>>) -> Self {
        ChunkStream {
            files,
            next_file: 0,
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
            if let Some((file, index, stream)) = &mut self.current {
                let (file, i) = (*file, *index);
                match stream.next() {
                    Some(Ok(c)) => {
                        *index += 1;
                        return Some(Chunk {
                            file,
                            index: i,
                            data: c.data,
                        });
                    }
                    Some(Err(e)) => {
                        self.fail(file, format!("read failed: {e}"));
                        self.current = None;
                    }
                    None => self.current = None,
                }
                continue;
            }
            let file = self.next_file;
            let job = self.files.get(file)?;
            self.next_file += 1;
            match File::open(&job.source) {
                Ok(f) => {
                    let s = fastcdc::v2020::StreamCDC::new(f, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK);
                    self.current = Some((file, 0, s));
                }
                Err(e) => self.fail(file, e.to_string()),
            }
        }
    }
}
