//! The data directory of a node: `node.key` (libp2p identity), `owner.key` (the
//! owner's master key as a recovery string), and `store/` (RocksDB). Key files are
//! created with mode 0600 and never overwritten silently.

use libp2p_identity::{Keypair, PeerId};
use shardnet_protocol::MasterKey;
use shardnet_store::{Store, StoreError};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const NODE_KEY: &str = "node.key";
const OWNER_KEY: &str = "owner.key";
/// The next owner key while `keys rotate` runs.
const ROTATING_KEY: &str = "owner.key.rotating";
const STORE_DIR: &str = "store";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not initialised: run `shardnet init` (or `shardnet keys import` to restore an owner key)")]
    NotInitialised(PathBuf),
    #[error("{path} holds an invalid key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{0} already exists: refusing to overwrite a key (losing it loses data); use another --data-dir")]
    Exists(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path} {problem}: fix it with `{fix}` (keys in a data dir others can read or replace are not keys any more)")]
    Unsafe {
        path: PathBuf,
        problem: String,
        fix: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Paths within one data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    store: shardnet_store::StoreOptions,
}

/// The default data directory: `$XDG_DATA_HOME/shardnet` (usually
/// `~/.local/share/shardnet`).
pub fn default_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("shardnet")
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir {
            root: root.into(),
            store: Default::default(),
        }
    }

    /// Opens the store with at most `n` table and blob files open (the
    /// simulator's nodes, hundreds in one process; see `StoreOptions`).
    pub fn with_store_files(mut self, n: i32) -> Self {
        self.store.max_open_files = n;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Refuses a data dir that is not this user's alone, as ssh does with
    /// its keys: the directory owned by another user or writable by group or
    /// others, or a key file readable by them. Checked at every start.
    pub fn check_permissions(&self) -> Result<(), DataDirError> {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let meta = fs::metadata(&self.root).map_err(io(&self.root))?;
        let shown = self.root.display().to_string();
        if meta.uid() != me {
            return Err(DataDirError::Unsafe {
                path: self.root.clone(),
                problem: format!("belongs to user {} (this is user {me})", meta.uid()),
                fix: format!("chown -R {me} {shown}"),
            });
        }
        if meta.mode() & 0o022 != 0 {
            return Err(DataDirError::Unsafe {
                path: self.root.clone(),
                problem: format!(
                    "is writable by group or others (mode {:o})",
                    meta.mode() & 0o777
                ),
                fix: format!("chmod 700 {shown}"),
            });
        }
        for key in [self.owner_key_path(), self.node_key_path()] {
            let Ok(m) = fs::metadata(&key) else { continue };
            if m.uid() != me || m.mode() & 0o077 != 0 {
                return Err(DataDirError::Unsafe {
                    path: key.clone(),
                    problem: format!(
                        "is open to group or others, or not this user's (mode {:o}, user {})",
                        m.mode() & 0o777,
                        m.uid()
                    ),
                    fix: format!("chown {me} {k} && chmod 600 {k}", k = key.display()),
                });
            }
        }
        Ok(())
    }

    pub fn owner_key_path(&self) -> PathBuf {
        self.root.join(OWNER_KEY)
    }

    pub fn node_key_path(&self) -> PathBuf {
        self.root.join(NODE_KEY)
    }

    pub fn is_initialised(&self) -> bool {
        self.owner_key_path().exists()
    }

    /// Creates the directory, a node identity (if missing) carrying
    /// `difficulty` bits of admission work (see `protocol::admission`), and
    /// writes `owner`. Fails if an owner key is already present.
    pub fn init(&self, owner: &MasterKey, difficulty: u8) -> Result<PeerId, DataDirError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let _ = fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700));
        let owner_path = self.owner_key_path();
        if owner_path.exists() {
            return Err(DataDirError::Exists(owner_path));
        }
        let peer = match self.node_identity() {
            Ok(k) => k.public().to_peer_id(),
            Err(DataDirError::NotInitialised(_)) => {
                let k = grind_identity(difficulty);
                let bytes = k.to_protobuf_encoding().map_err(|e| DataDirError::BadKey {
                    path: self.node_key_path(),
                    reason: e.to_string(),
                })?;
                write_secret(&self.node_key_path(), &bytes)?;
                k.public().to_peer_id()
            }
            Err(e) => return Err(e),
        };
        // Open the store once so that a broken disk shows up at init, not later.
        self.open_store()?;
        write_secret(
            &owner_path,
            format!("{}\n", owner.to_recovery_string()).as_bytes(),
        )?;
        Ok(peer)
    }

    /// Writes the node identity before `init` (which keeps an existing one):
    /// the simulator gives nodes identities from its seed, so a seed gives the
    /// same placement every run. Refuses to replace an identity.
    pub fn set_node_identity(&self, k: &Keypair) -> Result<PeerId, DataDirError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.node_key_path();
        if path.exists() {
            return Err(DataDirError::Exists(path));
        }
        let bytes = k.to_protobuf_encoding().map_err(|e| DataDirError::BadKey {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_secret(&path, &bytes)?;
        Ok(k.public().to_peer_id())
    }

    /// Replaces the owner key of an initialised data dir atomically (the old key
    /// is kept next to it as `owner.key.replaced-TIME`). Works while a node runs:
    /// the node reads the key file for every operation.
    pub fn replace_owner_key(&self, key: &MasterKey, now: u64) -> Result<PathBuf, DataDirError> {
        let path = self.owner_key_path();
        let kept = self.root.join(format!("{OWNER_KEY}.replaced-{now}"));
        fs::copy(&path, &kept).map_err(io(&kept))?;
        let _ = fs::set_permissions(&kept, fs::Permissions::from_mode(0o600));
        let tmp = self.root.join(format!("{OWNER_KEY}.new"));
        let _ = fs::remove_file(&tmp);
        write_secret(&tmp, format!("{}\n", key.to_recovery_string()).as_bytes())?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(kept)
    }

    /// The new owner key of a rotation under way (`keys rotate`), made and
    /// kept (flushed, 0600) before anything is re-signed with it, so that a
    /// rotation cut short resumes with the same key.
    pub fn rotation_key(&self) -> Result<MasterKey, DataDirError> {
        let path = self.root.join(ROTATING_KEY);
        if !path.exists() {
            let key = MasterKey::generate(&mut rand::rngs::OsRng);
            write_secret(&path, format!("{}\n", key.to_recovery_string()).as_bytes())?;
        }
        self.read_key(path, |b| {
            MasterKey::from_recovery_string(&String::from_utf8_lossy(b))
        })
    }

    /// Ends a rotation: the rotation's key becomes the owner key (an atomic
    /// rename) and the old one is kept as `owner.key.retired-TIME`.
    pub fn finish_rotation(&self, now: u64) -> Result<PathBuf, DataDirError> {
        let path = self.owner_key_path();
        let kept = self.root.join(format!("{OWNER_KEY}.retired-{now}"));
        fs::copy(&path, &kept).map_err(io(&kept))?;
        let _ = fs::set_permissions(&kept, fs::Permissions::from_mode(0o600));
        let next = self.root.join(ROTATING_KEY);
        fs::rename(&next, &path).map_err(io(&path))?;
        if let Ok(dir) = fs::File::open(&self.root) {
            let _ = dir.sync_all();
        }
        Ok(kept)
    }

    /// Reads a key file and parses it; a missing file means "not initialised".
    fn read_key<T, E: std::fmt::Display>(
        &self,
        path: PathBuf,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
    ) -> Result<T, DataDirError> {
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataDirError::NotInitialised(self.root.clone()))
            }
            Err(e) => return Err(io(&path)(e)),
        };
        parse(&bytes).map_err(|e| DataDirError::BadKey {
            path,
            reason: e.to_string(),
        })
    }

    pub fn owner_key(&self) -> Result<MasterKey, DataDirError> {
        self.read_key(self.owner_key_path(), |b| {
            MasterKey::from_recovery_string(&String::from_utf8_lossy(b))
        })
    }

    pub fn node_identity(&self) -> Result<Keypair, DataDirError> {
        self.read_key(self.node_key_path(), Keypair::from_protobuf_encoding)
    }

    /// Opens the store; the data dir must be initialised.
    pub fn open_store(&self) -> Result<Store, DataDirError> {
        if !self.root.exists() {
            return Err(DataDirError::NotInitialised(self.root.clone()));
        }
        Ok(Store::open_with(&self.root.join(STORE_DIR), self.store)?)
    }
}

/// Writes a secret file with mode 0600, refusing to replace an existing one.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => DataDirError::Exists(path.to_path_buf()),
            _ => io(path)(e),
        })?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A new ed25519 node identity with at least `difficulty` bits of admission
/// work, ground on every core (about `2^difficulty` keys in all).
pub fn grind_identity(difficulty: u8) -> Keypair {
    use shardnet_protocol::admission;
    use std::sync::atomic::{AtomicBool, Ordering};
    let found = AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let make = || {
        let k = Keypair::generate_ed25519();
        let id = k.public().to_peer_id().to_bytes();
        (k, id)
    };
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (k, _) =
                        admission::grind(difficulty, make, || found.load(Ordering::Relaxed));
                    if k.is_some() {
                        found.store(true, Ordering::Relaxed);
                    }
                    k
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().ok().flatten())
            .next()
    })
    // None only if every worker died: grind here, which never gives up.
    .unwrap_or_else(|| loop {
        if let (Some(k), _) = admission::grind(difficulty, make, || false) {
            break k;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn init_then_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("d"));
        assert!(matches!(
            dd.owner_key(),
            Err(DataDirError::NotInitialised(_))
        ));
        let k = MasterKey::generate(&mut OsRng);
        let peer = dd.init(&k, 0).unwrap();
        assert_eq!(dd.owner_key().unwrap(), k);
        assert_eq!(dd.node_identity().unwrap().public().to_peer_id(), peer);
        let mode = fs::metadata(dd.owner_key_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            dd.init(&MasterKey::generate(&mut OsRng), 0),
            Err(DataDirError::Exists(_))
        ));
        assert_eq!(dd.owner_key().unwrap(), k);
    }

    #[test]
    fn a_data_dir_open_to_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("d"));
        dd.init(&MasterKey::generate(&mut OsRng), 0).unwrap();
        dd.check_permissions().unwrap();
        fs::set_permissions(dd.root(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = dd.check_permissions().unwrap_err().to_string();
        assert!(
            e.contains("writable by group or others") && e.contains("chmod 700"),
            "{e}"
        );
        fs::set_permissions(dd.root(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(dd.owner_key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        let e = dd.check_permissions().unwrap_err().to_string();
        assert!(e.contains("owner.key") && e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_given_identity_is_kept_by_init_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("d"));
        let id = Keypair::ed25519_from_bytes([7u8; 32]).unwrap();
        let peer = dd.set_node_identity(&id).unwrap();
        assert_eq!(dd.init(&MasterKey::generate(&mut OsRng), 0).unwrap(), peer);
        let other = Keypair::ed25519_from_bytes([8u8; 32]).unwrap();
        assert!(matches!(
            dd.set_node_identity(&other),
            Err(DataDirError::Exists(_))
        ));
        assert_eq!(dd.node_identity().unwrap().public().to_peer_id(), peer);
    }

    #[test]
    fn a_new_identity_carries_the_asked_work() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::new(dir.path().join("n"));
        let peer = dd.init(&MasterKey::generate(&mut OsRng), 10).unwrap();
        assert!(shardnet_protocol::admission::work(&peer.to_bytes()) >= 10);
    }
}
