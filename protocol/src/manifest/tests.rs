//! The manifest's round trips, its formats, and its refusals of unsafe
//! paths and malformed stripes.
use super::*;
use proptest::prelude::*;
use rand::SeedableRng;

fn info() -> BackupInfo {
    BackupInfo {
        name: "t".into(),
        tier: Tier::Silver,
        created_at: 1,
        expires_at: 2,
        sources: vec!["/x".into()],
        files: 0,
        dirs: 0,
        symlinks: 0,
        bytes: 0,
        chunks: 0,
    }
}

fn entry(i: usize) -> Entry {
    Entry {
        path: format!("dir/файл-{i}.txt").into_bytes(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: i as i64,
        mtime_nsec: 0,
        kind: EntryKind::File {
            size: 10,
            chunks: vec![ChunkRef {
                id: ShardId([i as u8; 32]),
                key: ShardKey([1; 32]),
                len: 10,
            }],
        },
    }
}

fn master() -> MasterKey {
    MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(9))
}

fn round_trip(m: &Manifest) -> Manifest {
    let k = master();
    let s = seal_manifest(m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    let root = open_root(s.root.bytes(), &k).unwrap();
    let shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
    open_manifest(&root, &shards).unwrap()
}

#[test]
fn large_tree_is_split_into_pieces() {
    let m = Manifest {
        info: info(),
        entries: (0..30_000).map(entry).collect(),
        stripes: Vec::new(),
    };
    let k = master();
    let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    assert!(s.pieces.len() >= 2, "{} pieces", s.pieces.len());
    assert!(s.pieces.iter().all(|p| p.bytes().len() <= PIECE_LEN + 64));
    assert_eq!(round_trip(&m), m);
}

#[test]
fn wrong_key_and_swapped_piece() {
    let m = Manifest {
        info: info(),
        entries: (0..30_000).map(entry).collect(),
        stripes: Vec::new(),
    };
    let k = master();
    let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    let other = MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(10));
    assert!(matches!(
        open_root(s.root.bytes(), &other),
        Err(ManifestError::WrongKey)
    ));
    let root = open_root(s.root.bytes(), &k).unwrap();
    let mut shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
    shards.swap(0, 1);
    assert!(matches!(
        open_manifest(&root, &shards),
        Err(ManifestError::PieceMismatch { index: 0 })
    ));
    assert!(matches!(
        open_manifest(&root, &shards[..1]),
        Err(ManifestError::PieceCount { .. })
    ));
}

#[test]
fn unsafe_paths_refused() {
    for p in [
        &b""[..],
        b"/etc/passwd",
        b"a/../../b",
        b"a//b",
        b"./a",
        b"a/\0",
    ] {
        assert!(
            validate_path(p).is_err(),
            "{:?}",
            String::from_utf8_lossy(p)
        );
    }
    validate_path("ok/ünïcode name/x".as_bytes()).unwrap();
    let mut m = Manifest {
        info: info(),
        entries: vec![entry(1)],
        stripes: Vec::new(),
    };
    m.entries[0].path = b"../escape".to_vec();
    let k = master();
    let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    let root = open_root(s.root.bytes(), &k).unwrap();
    let shards: Vec<Vec<u8>> = s.pieces.iter().map(|p| p.bytes().to_vec()).collect();
    assert!(matches!(
        open_manifest(&root, &shards),
        Err(ManifestError::BadPath(_))
    ));
}

fn striped(n: usize) -> Manifest {
    let mut m = Manifest {
        info: info(),
        entries: (0..n).map(entry).collect(),
        stripes: Vec::new(),
    };
    // Every other chunk as 2+1 pieces, listed out of order.
    for i in (0..n).step_by(2).rev() {
        m.stripes.push(StripeRef {
            shard: ShardId([i as u8; 32]),
            data: 2,
            parity: 1,
            pieces: (0..3).map(|p| ShardId([100 + p; 32])).collect(),
        });
    }
    m.stripes.push(StripeRef {
        shard: ShardId([250; 32]),
        data: 2,
        parity: 1,
        pieces: vec![ShardId([1; 32]); 3],
    });
    m.tidy_stripes();
    m
}

#[test]
fn stripes_round_trip_in_format_2_and_name_their_pieces() {
    let m = striped(6);
    // The unreferenced stripe went; the rest are sorted.
    assert_eq!(m.stripes.len(), 3);
    let k = master();
    let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    assert_eq!(open_root(s.root.bytes(), &k).unwrap().format, 2);
    assert_eq!(round_trip(&m), m);
    assert!(matches!(m.stored(&ShardId([2; 32])), Stored::Pieces(p) if p.pieces.len() == 3));
    assert_eq!(
        m.stored(&ShardId([1; 32])),
        Stored::Copies(ShardId([1; 32]))
    );
    let ids = m.stored_ids();
    // 3 chunks as copies, 3 as pieces sharing the same 3 piece ids here.
    let piece = |id: &ShardId| m.stripes.iter().any(|s| s.pieces.contains(id));
    assert_eq!(ids.iter().filter(|id| !piece(id)).count(), 3);
    assert_eq!(ids.iter().filter(|id| piece(id)).count(), 9);
}

#[test]
fn without_stripes_the_manifest_is_format_1_as_before() {
    #[derive(Serialize)]
    struct Old<'a> {
        info: &'a BackupInfo,
        entries: &'a [Entry],
    }
    let m = Manifest {
        info: info(),
        entries: (0..5).map(entry).collect(),
        stripes: Vec::new(),
    };
    let k = master();
    let s = seal_manifest(&m, &k, Cipher::Aes256Gcm, [3; 12]).unwrap();
    let root = open_root(s.root.bytes(), &k).unwrap();
    assert_eq!(root.format, 1);
    let old = codec::encode::<_, MAX_MANIFEST_LEN>(
        "m",
        &Old {
            info: &m.info,
            entries: &m.entries,
        },
    )
    .unwrap();
    assert_eq!(decode_manifest(1, &old).unwrap(), m);
    assert_eq!(root.manifest_len, old.len() as u64);
    assert!(matches!(
        decode_manifest(3, &old),
        Err(ManifestError::Format(3))
    ));
}

#[test]
fn malformed_stripes_are_refused() {
    let good = striped(4);
    let mut short = good.clone();
    short.stripes[0].pieces.pop();
    let mut unsorted = good.clone();
    unsorted.stripes.swap(0, 1);
    let mut zero = good.clone();
    zero.stripes[0].parity = 0;
    zero.stripes[0].pieces.truncate(2);
    for bad in [short, unsorted, zero] {
        let bytes = codec::encode::<_, MAX_MANIFEST_LEN>("m", &bad).unwrap();
        assert!(matches!(
            decode_manifest(2, &bytes),
            Err(ManifestError::BadStripe(_))
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn manifest_round_trip(n in 0usize..50, name in ".{0,40}", link in proptest::collection::vec(1u8..255, 1..100)) {
        let mut m = Manifest { info: BackupInfo { name, ..info() }, entries: (0..n).map(entry).collect(), stripes: Vec::new() };
        m.entries.push(Entry { path: b"l".to_vec(), mode: 0o777, uid: 1, gid: 2, mtime: -5, mtime_nsec: 7, kind: EntryKind::Symlink { target: link } });
        m.entries.push(Entry { path: b"d".to_vec(), mode: 0o755, uid: 1, gid: 2, mtime: 0, mtime_nsec: 0, kind: EntryKind::Dir });
        prop_assert_eq!(round_trip(&m), m);
    }

    #[test]
    fn root_decoder_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = codec::decode::<ManifestRoot, MAX_ROOT_LEN>("root", &data);
        let _ = decode_manifest(1, &data);
        let _ = decode_manifest(2, &data);
    }
}
