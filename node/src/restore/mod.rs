//! Restoring a backup (or one sub-path of it) into a destination directory.
//!
//! Chunks are fetched, verified (the store re-hashes every shard) and decrypted
//! by worker threads (as many per core as the source asks), which take chunk indices in order and may
//! run at most [`WINDOW_PER_THREAD`] × workers chunks ahead of this thread,
//! which writes them back in order (large files past the page cache, see
//! `output`). Memory stays bounded by that window whatever the
//! file sizes. (The first version computed whole windows between barriers and
//! left cores idle: 2.3 s for 1 GiB against 0.8 s now.) A chunk that cannot be read fails its file
//! (the partial file is removed), the rest of the restore goes on, and every
//! failure is reported at the end.

mod output;

use crate::manifests::{self, LoadError};
use crate::shards::ShardSource;
use shardnet_protocol::envelope::{self, Opened};
use shardnet_protocol::manifest::{ChunkRef, Entry, EntryKind};
use shardnet_protocol::{BackupId, MasterKey};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Chunks in flight per worker thread (each at most 4 MiB plaintext).
const WINDOW_PER_THREAD: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "{0} is not empty: restore into an empty or new directory, or pass --force to overwrite"
    )]
    NotEmpty(PathBuf),
    #[error("no path {0:?} in this backup (`shardnet backup show ID --files` lists them)")]
    NoSuchPath(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}; restore into a directory only you can write (e.g. a new one under your home)")]
    UnsafeDestination { path: PathBuf, problem: String },
    #[error("{path}: is a symlink inside the destination; refusing to restore through it (remove it, or restore into a new directory)")]
    SymlinkInPath { path: PathBuf },
    #[error("the backup names a path that is not a plain relative path ({0:?}): refusing it")]
    BadPath(String),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RestoreReport {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// (path, reason) of every file that could not be restored.
    pub failed: Vec<(String, String)>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn selected<'a>(entries: &'a [Entry], sub: Option<&str>) -> Result<Vec<&'a Entry>, RestoreError> {
    let Some(sub) = sub else {
        return Ok(entries.iter().collect());
    };
    let sub = sub.trim_matches('/').as_bytes();
    let picked: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.path == sub || (e.path.starts_with(sub) && e.path.get(sub.len()) == Some(&b'/'))
        })
        .collect();
    if picked.is_empty() {
        return Err(RestoreError::NoSuchPath(
            String::from_utf8_lossy(sub).into_owned(),
        ));
    }
    Ok(picked)
}

/// Fetches, verifies and opens one chunk; its plaintext stays in the buffer
/// the shard was read into (`envelope::open_owned`).
fn fetch_chunk(src: &dyn ShardSource, c: &ChunkRef) -> Result<Opened, String> {
    let bytes = src.get(&c.id).map_err(|e| e.to_string())?;
    let plain = envelope::open_owned(bytes, &c.key).map_err(|e| format!("shard {}: {e}", c.id))?;
    if plain.len() != c.len as usize {
        return Err(format!(
            "shard {}: {} bytes, manifest says {}",
            c.id,
            plain.len(),
            c.len
        ));
    }
    Ok(plain)
}

/// Restores backup `id` into `dest`.
pub fn restore(
    src: &dyn ShardSource,
    master: &MasterKey,
    id: &BackupId,
    dest: &Path,
    sub: Option<&str>,
    force: bool,
    progress: Option<indicatif::ProgressBar>,
) -> Result<RestoreReport, RestoreError> {
    let (_, manifest) = manifests::load(src, master, id)?;
    // Chunks kept as pieces are read from any `k` of them.
    let striped = crate::pieces::Striped::new(src, &manifest);
    let src: &dyn ShardSource = &striped;
    let entries = selected(&manifest.entries, sub)?;
    match fs::read_dir(dest) {
        Ok(mut it) => {
            if it.next().is_some() && !force {
                return Err(RestoreError::NotEmpty(dest.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(io_err(dest))?
        }
        Err(e) => return Err(io_err(dest)(e)),
    }
    check_destination(dest)?;
    for e in &entries {
        if !is_plain_relative(&e.path) {
            return Err(RestoreError::BadPath(
                String::from_utf8_lossy(&e.path).into_owned(),
            ));
        }
    }
    let mut report = RestoreReport::default();
    let target = |e: &Entry| dest.join(OsStr::from_bytes(&e.path));

    // Directories (parents first: entries are sorted by path) and symlinks.
    for e in &entries {
        let path = target(e);
        match &e.kind {
            EntryKind::Dir => {
                safe_dirs(dest, &path)?;
                report.dirs += 1;
            }
            EntryKind::Symlink { target: t } => {
                if let Some(parent) = path.parent() {
                    safe_dirs(dest, parent)?;
                }
                if force {
                    remove_non_dir(&path)?;
                }
                std::os::unix::fs::symlink(OsStr::from_bytes(t), &path).map_err(io_err(&path))?;
                let _ = std::os::unix::fs::lchown(&path, Some(e.uid), Some(e.gid));
                report.symlinks += 1;
            }
            EntryKind::File { .. } => {}
        }
    }

    // Files: a producer thread decrypts windows of chunks in parallel and hands
    // them over in order through a bounded channel.
    let files: Vec<(&Entry, &[ChunkRef])> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File { chunks, .. } => Some((*e, chunks.as_slice())),
            _ => None,
        })
        .collect();
    let all: Vec<&ChunkRef> = files.iter().flat_map(|(_, c)| c.iter()).collect();
    let total: u64 = all.iter().map(|c| c.len as u64).sum();
    let bar = progress.unwrap_or_else(indicatif::ProgressBar::hidden);
    bar.set_length(total);
    bar.set_position(0);
    // Local reads: two workers per core. Shard reads bypass the page cache
    // (the store uses O_DIRECT), so a worker waits on the disk for part of
    // each chunk (measured on a 1 GiB restore: 2.0 s with one per core,
    // 1.55 s with two, 1.8 s with four). A swarm source asks for more.
    let threads = rayon::current_num_threads().max(1) * src.reads_per_core().max(1);
    let window = WINDOW_PER_THREAD * threads;
    // Workers take chunk indices in order and may run at most `window` chunks
    // ahead of the writer (a permit per chunk, returned once it is written);
    // the writer puts results back in order.
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Result<Opened, String>)>();
    let (permit_tx, permit_rx) = crossbeam_channel::bounded::<()>(window);
    for _ in 0..window {
        let _ = permit_tx.send(());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<(), RestoreError> {
        for _ in 0..threads {
            let (tx, permit_rx, next, all) = (tx.clone(), permit_rx.clone(), &next, &all);
            scope.spawn(move || {
                while permit_rx.recv().is_ok() {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = all.get(i) else { return };
                    if tx.send((i, fetch_chunk(src, c))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut ready: std::collections::BTreeMap<usize, Result<Opened, String>> =
            std::collections::BTreeMap::new();
        let mut expected = 0usize;
        let mut spare = None;
        for (e, chunks) in &files {
            let path = target(e);
            if let Some(parent) = path.parent() {
                safe_dirs(dest, parent)?;
            }
            if force {
                remove_non_dir(&path)?;
            }
            let size = match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            };
            let mut out = output::Output::new(create_private(&path)?, size, &mut spare);
            let mut failure = None;
            for _ in 0..chunks.len() {
                let r = loop {
                    if let Some(r) = ready.remove(&expected) {
                        break r;
                    }
                    let (i, r) = rx.recv().map_err(|_| {
                        io_err(&path)(std::io::Error::other("restore worker stopped"))
                    })?;
                    ready.insert(i, r);
                };
                expected += 1;
                let _ = permit_tx.send(());
                match r {
                    Ok(data) if failure.is_none() => {
                        out.write(&data).map_err(io_err(&path))?;
                        bar.inc(data.len() as u64);
                        report.bytes += data.len() as u64;
                    }
                    Ok(_) => {}
                    Err(reason) => failure = failure.or(Some(reason)),
                }
            }
            if let Some(reason) = failure {
                drop(out);
                let _ = fs::remove_file(&path);
                report
                    .failed
                    .push((String::from_utf8_lossy(&e.path).into_owned(), reason));
                continue;
            }
            let f = out.finish(&mut spare).map_err(io_err(&path))?;
            // On the descriptor: a name swapped meanwhile changes nothing.
            apply_file_metadata(&f, &path, e)?;
            drop(f);
            report.files += 1;
        }
        drop(permit_tx);
        Ok(())
    })?;
    bar.finish_and_clear();

    // Directory times last (writing children changed them), deepest first.
    for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
        apply_metadata(&target(e), e)?;
    }
    Ok(report)
}

/// The destination must be a real directory (not a symlink) of this user,
/// which group and others cannot write: else another user could swap
/// symlinks in while the restore runs.
fn check_destination(dest: &Path) -> Result<(), RestoreError> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(dest).map_err(io_err(dest))?;
    let unsafe_dest = |problem: String| RestoreError::UnsafeDestination {
        path: dest.to_path_buf(),
        problem,
    };
    if !m.is_dir() {
        return Err(unsafe_dest("is not a directory (or is a symlink)".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me {
        return Err(unsafe_dest(format!(
            "belongs to user {} (this is user {me})",
            m.uid()
        )));
    }
    if m.mode() & 0o022 != 0 {
        return Err(unsafe_dest(format!(
            "is writable by group or others (mode {:o})",
            m.mode() & 0o777
        )));
    }
    Ok(())
}

/// A manifest path: relative, made of plain names only (no `..`, `.` or
/// empty components). A manifest is the owner's, authenticated, but a
/// restore never writes outside its destination whatever it says.
fn is_plain_relative(p: &[u8]) -> bool {
    !p.is_empty()
        && p.split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Creates `dir` and its missing parents below `dest` (mode 0700 until the
/// final modes are set), refusing any component that is a symlink.
fn safe_dirs(dest: &Path, dir: &Path) -> Result<(), RestoreError> {
    use std::os::unix::fs::DirBuilderExt;
    let rel = dir.strip_prefix(dest).unwrap_or(Path::new(""));
    let mut at = dest.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(RestoreError::SymlinkInPath { path: at });
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io_err(&at)(std::io::Error::other(
                    "exists and is not a directory",
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&at)
                    .map_err(io_err(&at))?;
            }
            Err(e) => return Err(io_err(&at)(e)),
        }
    }
    Ok(())
}

/// With --force: removes what is at `path` unless it is a directory (a
/// symlink is removed, never followed).
fn remove_non_dir(path: &Path) -> Result<(), RestoreError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(io_err(path)(std::io::Error::other(
            "a directory is in the way of a file",
        ))),
        Ok(_) => fs::remove_file(path).map_err(io_err(path)),
        Err(_) => Ok(()),
    }
}

/// A new file, 0600 until its final mode is set; never through a symlink
/// and never an existing file.
fn create_private(path: &Path) -> Result<fs::File, RestoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => io_err(path)(std::io::Error::other(
                "appeared during the restore (another process?); not overwritten",
            )),
            _ => io_err(path)(e),
        })
}

fn apply_file_metadata(f: &fs::File, path: &Path, e: &Entry) -> Result<(), RestoreError> {
    // Ownership only sticks when running as root; elsewhere it fails harmlessly.
    let _ = std::os::unix::fs::fchown(f, Some(e.uid), Some(e.gid));
    f.set_permissions(fs::Permissions::from_mode(e.mode))
        .map_err(io_err(path))?;
    let t = filetime::FileTime::from_unix_time(e.mtime, e.mtime_nsec);
    filetime::set_file_handle_times(f, None, Some(t)).map_err(io_err(path))
}

fn apply_metadata(path: &Path, e: &Entry) -> Result<(), RestoreError> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(RestoreError::SymlinkInPath {
            path: path.to_path_buf(),
        });
    }
    // Ownership only sticks when running as root; elsewhere it fails harmlessly.
    let _ = std::os::unix::fs::lchown(path, Some(e.uid), Some(e.gid));
    fs::set_permissions(path, fs::Permissions::from_mode(e.mode)).map_err(io_err(path))?;
    let t = filetime::FileTime::from_unix_time(e.mtime, e.mtime_nsec);
    filetime::set_file_mtime(path, t).map_err(io_err(path))
}

#[cfg(test)]
mod tests;
