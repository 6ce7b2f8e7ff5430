use crate::db::tests::lease;
use crate::db::{CF_LOCATIONS, CF_STATE};
use crate::{ShardState, Store, StoreError};
use shardnet_protocol::ShardId;
use std::os::unix::fs::FileExt;
use std::path::Path;

fn shard(i: u8, len: usize) -> (ShardId, Vec<u8>) {
    let b: Vec<u8> = (0..len).map(|j| (j as u8).wrapping_mul(31) ^ i).collect();
    (ShardId::of(&b), b)
}

fn segment_files(store: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(store.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// Shards of 64 KiB and more go to a segment file, smaller ones stay in
/// RocksDB, and both read back after a reopen; each open writes a new
/// segment, never the tail of an old one.
#[test]
fn big_shards_go_to_segments_and_read_back_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let shards = [shard(1, 1 << 20), shard(2, 200 << 10), shard(3, 1000)];
    {
        let s = Store::open(dir.path()).unwrap();
        for (id, b) in &shards {
            s.put_shard(id, b, lease()).unwrap();
        }
        s.flush().unwrap();
        assert!(s.db_get(CF_LOCATIONS, &shards[0].0 .0).unwrap().is_some());
        assert!(s.db_get(CF_LOCATIONS, &shards[2].0 .0).unwrap().is_none());
    }
    assert_eq!(segment_files(dir.path()).len(), 1);
    let s = Store::open(dir.path()).unwrap();
    for (id, b) in &shards {
        assert_eq!(&s.get_shard(id).unwrap(), b);
    }
    let (id, b) = shard(4, 300 << 10);
    s.put_shard(&id, &b, lease()).unwrap();
    assert_eq!(s.get_shard(&id).unwrap(), b);
    assert_eq!(segment_files(dir.path()).len(), 2);
}

/// Rot in a segment record (payload or header) is found on read, marked,
/// and replaced by the next verified put of the same bytes; a missing
/// segment file reads as missing bytes, not as an error of the store.
#[test]
fn rot_and_missing_segments_are_marked_and_repaired_by_a_verified_put() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let (a, ab) = shard(1, 256 << 10);
    let (b, bb) = shard(2, 256 << 10);
    s.put_shard(&a, &ab, lease()).unwrap();
    s.put_shard(&b, &bb, lease()).unwrap();
    s.flush().unwrap();
    let file = &segment_files(dir.path())[0];
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(b"rot", 64 + 1000).unwrap();
    drop(f);
    let first_is_a = s.get_shard(&a).is_err();
    let (rotten, good) = if first_is_a { (a, b) } else { (b, a) };
    let err = s.get_shard(&rotten).unwrap_err();
    assert!(matches!(err, StoreError::CorruptShard { .. }), "{err}");
    assert_eq!(
        s.meta(&rotten).unwrap().unwrap().state,
        ShardState::Corrupted
    );
    assert!(s.get_shard(&good).is_ok());
    let bytes = if rotten == a { &ab } else { &bb };
    assert_eq!(
        s.put_shard(&rotten, bytes, lease()).unwrap(),
        crate::PutOutcome::Repaired
    );
    assert_eq!(&s.get_shard(&rotten).unwrap(), bytes);

    drop(s);
    for p in segment_files(dir.path()) {
        std::fs::remove_file(p).unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    let err = s.get_shard(&good).unwrap_err().to_string();
    assert!(err.contains("is missing"), "{err}");
}

/// A segment whose every shard was purged is deleted once the purge is
/// flushed (not before: a crash must not bring back a location into a
/// deleted file); a segment with one live shard stays.
#[test]
fn emptied_segments_are_deleted_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<(ShardId, Vec<u8>)> = (0..3).map(|i| shard(i, 128 << 10)).collect();
    {
        let s = Store::open(dir.path()).unwrap();
        for (id, b) in &ids {
            s.put_shard(id, b, lease()).unwrap();
        }
    }
    let s = Store::open(dir.path()).unwrap();
    let (keep, kb) = shard(9, 128 << 10);
    s.put_shard(&keep, &kb, lease()).unwrap();
    for (id, _) in &ids {
        s.quarantine(id, "test").unwrap();
        assert!(s.purge(id, "test").unwrap().is_some());
    }
    assert_eq!(
        segment_files(dir.path()).len(),
        2,
        "still there before the flush"
    );
    s.flush().unwrap();
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "the emptied one is gone"
    );
    assert_eq!(s.get_shard(&keep).unwrap(), kb);
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.get_shard(&keep).unwrap(), kb);
    assert!(matches!(
        s.get_shard(&ids[0].0),
        Err(StoreError::NotFound { .. })
    ));
}

/// A record whose location reached the disk but whose bytes may not have
/// (past its segment's synced mark) is re-hashed at open: bad ones are
/// marked corrupted at once, good ones stay healthy, and the mark then
/// covers them so the next open checks nothing.
#[test]
fn records_past_the_synced_mark_are_rehashed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (a, ab) = shard(1, 100 << 10);
    let (b, bb) = shard(2, 100 << 10);
    {
        let s = Store::open(dir.path()).unwrap();
        s.put_shard(&a, &ab, lease()).unwrap();
        s.put_shard(&b, &bb, lease()).unwrap();
        s.flush().unwrap();
    }
    {
        // As if the crash came before the sync: no mark, and a's bytes lost.
        let s = Store::open(dir.path()).unwrap();
        let mut batch = rocksdb::WriteBatch::default();
        let mut k = b"segment-synced/".to_vec();
        k.extend_from_slice(&0u32.to_be_bytes());
        batch.delete_cf(s.cf(CF_STATE), k);
        s.write(batch).unwrap();
        s.flush().unwrap();
    }
    let file = &segment_files(dir.path())[0];
    let raw = std::fs::read(file).unwrap();
    let at = raw.windows(32).position(|w| w == a.0).unwrap() - 8;
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(&vec![0u8; 100 << 10], at as u64).unwrap();
    drop(f);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.meta(&a).unwrap().unwrap().state, ShardState::Corrupted);
    assert_eq!(s.meta(&b).unwrap().unwrap().state, ShardState::Healthy);
    assert_eq!(s.get_shard(&b).unwrap(), bb);
    let events = s.audit_log(0, 100).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.detail.contains("written just before a crash")),
        "{events:?}"
    );
}

/// Threads putting at once, each reading its shard back at once (often
/// while the record still waits for the writer), then one flush: every
/// shard reads back after a reopen.
#[test]
fn concurrent_puts_read_back_before_and_after_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<(ShardId, Vec<u8>)> = (0..64u8)
        .map(|i| shard(i, (100 << 10) + i as usize))
        .collect();
    {
        let s = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        std::thread::scope(|sc| {
            for part in all.chunks(16) {
                let s = s.clone();
                sc.spawn(move || {
                    for (id, b) in part {
                        s.put_shard(id, b, lease()).unwrap();
                        assert_eq!(&s.get_shard(id).unwrap(), b);
                    }
                });
            }
        });
        s.flush().unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    for (id, b) in &all {
        assert_eq!(&s.get_shard(id).unwrap(), b);
    }
    assert_eq!(s.stats().unwrap().healthy, 64);
}

/// A closed segment three quarters dead gives its space back: its live
/// shards move forward (and read back, after a reopen too), the file is
/// deleted at the flush, and a rotten record stays where it is, keeping
/// its segment, without stopping the others.
#[test]
fn sparse_segments_are_reclaimed_by_moving_their_live_shards() {
    let dir = tempfile::tempdir().unwrap();
    let big = |i: u8| shard(i, (1 << 20) + i as usize);
    {
        let s = Store::open(dir.path()).unwrap();
        for i in 0..16 {
            let (id, b) = big(i);
            s.put_shard(&id, &b, lease()).unwrap();
        }
    }
    {
        let s = Store::open(dir.path()).unwrap();
        for i in 16..32 {
            let (id, b) = big(i);
            s.put_shard(&id, &b, lease()).unwrap();
        }
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.reclaim_segments(u64::MAX).unwrap(),
        Default::default(),
        "nothing sparse yet"
    );
    for i in (0..12).chain(16..28) {
        let (id, _) = big(i);
        s.quarantine(&id, "test").unwrap();
        s.purge(&id, "test").unwrap().unwrap();
    }
    s.flush().unwrap();
    // Rot one survivor of the second segment.
    let files = segment_files(dir.path());
    assert_eq!(files.len(), 2);
    let (rotten, _) = big(31);
    let raw = std::fs::read(&files[1]).unwrap();
    let at = raw.windows(32).position(|w| w == rotten.0).unwrap() + 32 + 1000;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&files[1])
        .unwrap();
    f.write_all_at(b"rot", at as u64).unwrap();
    drop(f);

    let r = s.reclaim_segments(u64::MAX).unwrap();
    assert_eq!(
        (r.segments_emptied, r.records_moved, r.records_bad),
        (1, 7, 1),
        "{r:?}"
    );
    let left = segment_files(dir.path());
    assert_eq!(
        left.len(),
        2,
        "the first is gone, the second stays, a new one holds the moved"
    );
    assert!(!left.contains(&files[0]) && left.contains(&files[1]));
    for i in (12..16).chain(28..31) {
        let (id, b) = big(i);
        assert_eq!(s.get_shard(&id).unwrap(), b, "shard {i}");
    }
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    for i in (12..16).chain(28..31) {
        let (id, b) = big(i);
        assert_eq!(s.get_shard(&id).unwrap(), b, "shard {i} after a reopen");
    }
    assert!(s.get_shard(&rotten).is_err());
}

/// Reads take no lock: a read that found a record's location just before
/// a reclaim moved it and deleted the old segment reads it at its new
/// place, and never marks a healthy copy corrupted (nor does one racing
/// with the reclaim from another thread).
#[test]
fn reads_racing_with_a_reclaim_never_mark_a_moved_copy_corrupted() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<(ShardId, Vec<u8>)> = (0..16u8).map(|i| shard(i, 1 << 20)).collect();
    {
        let s = Store::open(dir.path()).unwrap();
        for (id, b) in &all {
            s.put_shard(id, b, lease()).unwrap();
        }
    }
    let s = Store::open(dir.path()).unwrap();
    for (id, _) in &all[..12] {
        s.quarantine(id, "test").unwrap();
        s.purge(id, "test").unwrap().unwrap();
    }
    s.flush().unwrap();
    let live = &all[12..];
    let stale: Vec<_> = live.iter().map(|(id, _)| s.location(id).unwrap()).collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for (id, b) in live {
                    assert_eq!(&s.get_shard(id).unwrap(), b);
                }
            }
        });
        let r = s.reclaim_segments(u64::MAX).unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.segments_emptied, 1, "{r:?}");
    });
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "the old segment is gone"
    );
    for ((id, b), at) in live.iter().zip(stale) {
        match s.held_at(id, at).unwrap() {
            crate::locations::Held::Good(v) => assert_eq!(&v, b),
            _ => panic!("a moved copy read as bad from its old location"),
        }
        assert_eq!(s.meta(id).unwrap().unwrap().state, ShardState::Healthy);
    }
}
