//! Walking the sources of a backup into manifest entries. Directories and
//! symlinks become entries at once; regular files become [`FileJob`]s whose
//! chunks are filled in by the chunk pipeline. Anything unreadable is recorded as
//! skipped and the walk goes on.

use shardnet_protocol::manifest::{Entry, EntryKind};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A regular file to chunk.
#[derive(Debug)]
pub(crate) struct FileJob {
    pub(crate) source: PathBuf,
    /// Device and inode the walk saw: the file read must be this one.
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    /// The entry to fill with chunks (kind is `File` with no chunks yet).
    pub(crate) entry: Entry,
}

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Directories and symlinks.
    pub(crate) entries: Vec<Entry>,
    pub(crate) files: Vec<FileJob>,
    /// (path, reason) of everything that could not be read.
    pub(crate) skipped: Vec<(PathBuf, String)>,
}

fn entry_for(rel: Vec<u8>, md: &std::fs::Metadata, kind: EntryKind) -> Entry {
    Entry {
        path: rel,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime: md.mtime(),
        mtime_nsec: md.mtime_nsec().clamp(0, 999_999_999) as u32,
        kind,
    }
}

/// The name under which a source is stored: its last component.
pub(crate) fn source_name(src: &Path) -> Option<Vec<u8>> {
    let canon = std::fs::canonicalize(src).ok()?;
    canon.file_name().map(|n| n.as_bytes().to_vec())
}

/// Walks `sources`; each is stored under its own name at the top of the backup.
/// Paths in `exclude` (canonical) are left out with everything below them.
pub(crate) fn walk(sources: &[PathBuf], exclude: &[PathBuf]) -> Result<Walk, String> {
    let mut out = Walk::default();
    let mut names = std::collections::HashSet::new();
    for src in sources {
        let Some(name) = source_name(src) else {
            match std::fs::symlink_metadata(src) {
                Err(e) => out.skipped.push((src.clone(), e.to_string())),
                Ok(_) => {
                    return Err(format!(
                        "{}: cannot back up a file-system root; name a directory inside it",
                        src.display()
                    ))
                }
            }
            continue;
        };
        if !names.insert(name.clone()) {
            return Err(format!(
                "two sources are named {:?}; back them up separately or from their parent",
                String::from_utf8_lossy(&name)
            ));
        }
        let walker = walkdir::WalkDir::new(src)
            .follow_links(false)
            .sort_by_file_name();
        let excluded = |e: &walkdir::DirEntry| {
            !exclude.is_empty()
                && e.file_type().is_dir()
                && std::fs::canonicalize(e.path()).is_ok_and(|c| exclude.contains(&c))
        };
        for item in walker.into_iter().filter_entry(|e| !excluded(e)) {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    let p = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| src.clone());
                    out.skipped.push((p, e.to_string()));
                    continue;
                }
            };
            let mut rel = name.clone();
            if let Ok(suffix) = item.path().strip_prefix(src) {
                if !suffix.as_os_str().is_empty() {
                    rel.push(b'/');
                    rel.extend_from_slice(suffix.as_os_str().as_bytes());
                }
            }
            let md = match item.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.skipped.push((item.path().to_path_buf(), e.to_string()));
                    continue;
                }
            };
            let ft = md.file_type();
            if ft.is_dir() {
                out.entries.push(entry_for(rel, &md, EntryKind::Dir));
            } else if ft.is_symlink() {
                match std::fs::read_link(item.path()) {
                    Ok(t) => out.entries.push(entry_for(
                        rel,
                        &md,
                        EntryKind::Symlink {
                            target: t.as_os_str().as_bytes().to_vec(),
                        },
                    )),
                    Err(e) => out.skipped.push((item.path().to_path_buf(), e.to_string())),
                }
            } else if ft.is_file() {
                let entry = entry_for(
                    rel,
                    &md,
                    EntryKind::File {
                        size: md.len(),
                        chunks: Vec::new(),
                    },
                );
                out.files.push(FileJob {
                    source: item.path().to_path_buf(),
                    dev: std::os::unix::fs::MetadataExt::dev(&md),
                    ino: std::os::unix::fs::MetadataExt::ino(&md),
                    entry,
                });
            } else {
                out.skipped.push((
                    item.path().to_path_buf(),
                    "not a regular file, directory or symlink".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Opens a file the walk found, as that file: without following a symlink
/// swapped in since (`O_NOFOLLOW`), without blocking on a FIFO swapped in
/// (`O_NONBLOCK`; reads of regular files never block on it), and only if
/// the descriptor's device and inode are the walk's.
pub(crate) fn open_walked(job: &FileJob) -> std::io::Result<std::fs::File> {
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
        let mut w = walk(&[dir.to_path_buf()], &[]).unwrap();
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
}
