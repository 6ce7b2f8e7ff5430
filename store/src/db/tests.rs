use super::options::supports_direct_io;
use super::*;
use rocksdb::WriteBatch;
use shardnet_protocol::ShardId;

#[test]
fn direct_io_is_probed_without_leaving_files() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    // tmpfs refuses O_DIRECT before Linux 6.6: either answer is fine
    // here, but the probe must create the directory and clean up after.
    let _ = supports_direct_io(&store_dir);
    assert!(store_dir.is_dir());
    assert_eq!(std::fs::read_dir(&store_dir).unwrap().count(), 0);
    // Under a regular file no directory can be made: no direct I/O, and
    // opening the store then fails with a clear error, not a panic.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(!supports_direct_io(&file.join("store")));
    assert!(Store::open(&file.join("store")).is_err());
}

#[test]
fn shards_written_with_direct_io_read_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..(300u32 << 10) + 13)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    {
        let s = Store::open(dir.path()).unwrap();
        let mut b = WriteBatch::default();
        b.put_cf(s.cf(CF_SHARDS), b"k", &bytes);
        s.write(b).unwrap();
        s.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.db_get(CF_SHARDS, b"k").unwrap().as_deref(),
        Some(&bytes[..])
    );
}

/// Set in the child process of the crash tests: the store dir to write in.
const CHILD_DIR: &str = "SHARDNET_STORE_CRASH_DIR";

fn shard(i: u8) -> (ShardId, Vec<u8>) {
    let b: Vec<u8> = (0..(200u32 << 10)).map(|j| (j as u8) ^ i).collect();
    (ShardId::of(&b), b)
}

/// A lease good for any test shard (its signature is not checked here).
pub(crate) fn lease() -> shardnet_protocol::Lease {
    shardnet_protocol::Lease {
        owner: shardnet_protocol::keys::OwnerId([1; 32]),
        expires_at: u64::MAX / 2,
        copies: 3,
        sig: shardnet_protocol::lease::Sig([0; 64]),
    }
}

/// In the child (`CHILD_DIR` set): shard 0 written without the WAL and not
/// flushed, shards 1 and 2 in a logged group, then shard 3 without the WAL,
/// and SIGKILL, so no destructor, flush or close runs.
fn crash_child(dir: &Path) -> ! {
    let s = Store::open(dir).unwrap();
    let (a, b) = shard(0);
    s.put_shard(&a, &b, lease()).unwrap();
    s.logged(|| {
        for i in 1..=2 {
            let (id, b) = shard(i);
            s.put_shard(&id, &b, lease()).unwrap();
        }
        s.add_lease(
            &a,
            shardnet_protocol::Lease {
                copies: 5,
                ..lease()
            },
        )
        .unwrap();
    })
    .unwrap();
    let (d, b) = shard(3);
    s.put_shard(&d, &b, lease()).unwrap();
    // SAFETY: kill(2) on our own pid with a constant signal.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL returned")
}

/// A logged group is durable when `logged` returns, without a flush: after
/// SIGKILL its shards are back (from the WAL) with their metadata. A write
/// made without the WAL before the group was flushed by it, so the lease
/// the group added to that shard has its bytes. The write made after it,
/// never flushed, is gone whole (which shows the kill loses what was not
/// durable), and the audit chain has no gap and no broken link.
#[test]
fn logged_groups_survive_sigkill_and_never_outlive_earlier_writes() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        crash_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "db::tests::logged_groups_survive_sigkill_and_never_outlive_earlier_writes",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
    let s = Store::open(dir.path()).unwrap();
    for i in 0..=2 {
        let (id, b) = shard(i);
        assert_eq!(s.get_shard(&id).unwrap(), b, "shard {i}");
        let m = s.meta(&id).unwrap().expect("metadata");
        assert_eq!(m.state, crate::ShardState::Healthy);
    }
    let (a, _) = shard(0);
    let leases = s.meta(&a).unwrap().unwrap().leases;
    assert!(leases.iter().any(|l| l.copies == 5), "{leases:?}");
    let (d, _) = shard(3);
    assert!(s.meta(&d).unwrap().is_none());
    assert!(matches!(s.get_shard(&d), Err(StoreError::NotFound { .. })));
    let chain = s.audit_verify().unwrap();
    assert!(chain.intact() && chain.gaps.is_empty(), "{chain:?}");
    assert_eq!(chain.events, 4, "{chain:?}");
}

/// A write outside `logged` (a lease renewed by the API, a quarantine by
/// repair) and the storage writer's logged group, both on one shard: the
/// first took the shard's stripe lock and then the write order, the second
/// the write order and then the stripe, and each waited for the other
/// forever (a `keys rotate` that never returned, a node whose writer
/// stopped answering). Now every thread takes the write order first.
#[test]
fn plain_writes_and_logged_groups_on_one_shard_never_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    let (id, b) = shard(9);
    s.put_shard(&id, &b, lease()).unwrap();
    let renew = |i: u64| shardnet_protocol::Lease {
        expires_at: u64::MAX / 2 + i,
        ..lease()
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for logged in [false, true] {
        let (s, done) = (s.clone(), done_tx.clone());
        std::thread::spawn(move || {
            for i in 0..3_000u64 {
                if logged {
                    s.logged(|| s.add_lease(&id, renew(i)).unwrap()).unwrap();
                } else {
                    s.add_lease(&id, renew(i)).unwrap();
                }
            }
            let _ = done.send(logged);
        });
    }
    for _ in 0..2 {
        done_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("a plain write and a logged group deadlocked");
    }
}

/// `logged` inside `logged`, or under a shard lock, runs instead of
/// waiting for the lock its own thread holds.
#[test]
fn logged_nested_or_under_a_shard_lock_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    let (id, b) = shard(8);
    let (tx, rx) = std::sync::mpsc::channel();
    let t = s.clone();
    std::thread::spawn(move || {
        let inner = t.logged(|| t.logged(|| t.put_shard(&id, &b, lease()).is_ok()));
        let under = {
            let _g = t.lock(&id);
            t.logged(|| 7)
        };
        let _ = tx.send((inner.ok().and_then(|r| r.ok()), under.ok()));
    });
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("logged waited for its own thread");
    assert_eq!(got, (Some(true), Some(7)));
    assert!(s.meta(&id).unwrap().is_some(), "the nested write is there");
}
