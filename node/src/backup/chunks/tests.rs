use super::super::walk::walk;
use super::*;
use rayon::prelude::*;
use shardnet_protocol::chunking::boundaries;

type Chunks = Vec<(usize, usize, Vec<u8>)>;

/// Runs a stream over `files` on a pool of `threads`, as a backup does:
/// every chunk (file, index, bytes) in order, and the files that failed.
fn drive(files: &[FileJob], threads: usize) -> (Chunks, HashMap<usize, String>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let errors = Mutex::new(HashMap::new());
    let mut out: Chunks = pool.install(|| {
        ChunkStream::new(files, &errors, threads)
            .par_bridge()
            .filter_map(|w| match w {
                Work::Scan(s) => {
                    s.run();
                    None
                }
                Work::Cut(c) => {
                    let n = c.len() as usize;
                    let c = c.chunk();
                    assert_eq!(c.plain().len(), n);
                    assert_eq!(c.data.capacity(), HEADROOM + n + TAG_LEN);
                    Some((c.file, c.index, c.plain().to_vec()))
                }
            })
            .collect()
    });
    out.sort_by_key(|(f, i, _)| (*f, *i));
    (out, errors.into_inner().unwrap())
}

/// The chunks a serial chunker cuts `data` into, as (offset, length).
fn want(data: &[u8]) -> Vec<(usize, usize)> {
    boundaries(data)
}

fn got_for(chunks: &Chunks, file: usize) -> Vec<(usize, usize)> {
    let mut off = 0;
    let mut out = Vec::new();
    for (i, (_, index, bytes)) in chunks.iter().filter(|c| c.0 == file).enumerate() {
        assert_eq!(*index, i, "indexes run from 0 without gaps");
        out.push((off, bytes.len()));
        off += bytes.len();
    }
    out
}

fn random(seed: u8, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    blake3::Hasher::new()
        .update(&[seed])
        .finalize_xof()
        .fill(&mut data);
    data
}

#[test]
fn cut_points_and_bytes_match_the_serial_chunker_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = random(1, 23 << 20);
    // A long run of zeros forces maximum-size chunks.
    big[3 << 20..12 << 20].fill(0);
    let sizes: &[(&str, Vec<u8>)] = &[
        ("big", big),
        ("empty", vec![]),
        ("tiny", random(2, 40)),
        ("two-blocks", random(3, 2 * BLOCK as usize)),
        ("odd", random(4, 5_000_001)),
    ];
    for (name, data) in sizes {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let w = walk(&[dir.path().to_path_buf()], &[]).unwrap();
    for threads in [1, 2, 5] {
        let (chunks, errors) = drive(&w.files, threads);
        assert!(errors.is_empty(), "{errors:?}");
        for (i, job) in w.files.iter().enumerate() {
            let data = std::fs::read(&job.source).unwrap();
            let got = got_for(&chunks, i);
            assert_eq!(
                got,
                want(&data),
                "{} on {threads} threads",
                job.source.display()
            );
            let joined: Vec<u8> = chunks
                .iter()
                .filter(|c| c.0 == i)
                .flat_map(|c| c.2.iter().copied())
                .collect();
            assert!(joined == data, "{} bytes differ", job.source.display());
        }
    }
}

#[test]
fn a_file_that_shrinks_while_read_ends_where_a_read_comes_back_short() {
    let dir = tempfile::tempdir().unwrap();
    let data = random(5, 10 << 20);
    let path = dir.path().join("f");
    std::fs::write(&path, &data).unwrap();
    let w = walk(&[dir.path().to_path_buf()], &[]).unwrap();
    let errors = Mutex::new(HashMap::new());
    let mut s = ChunkStream::new(&w.files, &errors, 1);
    // The first block is read whole, then the file shrinks to 3 MiB.
    let Some(Work::Scan(first)) = s.next() else {
        panic!("a stream starts with a scan")
    };
    first.run();
    let cut = 3 << 20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    let mut chunks = Vec::new();
    for w in s {
        match w {
            Work::Scan(scan) => scan.run(),
            Work::Cut(c) => chunks.push(c.chunk().plain().to_vec()),
        }
    }
    assert!(errors.into_inner().unwrap().is_empty());
    let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
    let want: Vec<usize> = boundaries(&data[..cut]).iter().map(|b| b.1).collect();
    assert_eq!(lens, want);
    assert!(chunks.concat() == data[..cut]);
}

#[test]
fn blocks_are_read_no_further_than_the_window_and_freed_behind_the_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let data = random(6, 40 << 20);
    std::fs::write(dir.path().join("f"), &data).unwrap();
    let w = walk(&[dir.path().to_path_buf()], &[]).unwrap();
    let errors = Mutex::new(HashMap::new());
    let mut s = ChunkStream::new(&w.files, &errors, 2);
    let mut cuts = 0;
    while let Some(work) = s.next() {
        match work {
            Work::Scan(scan) => scan.run(),
            Work::Cut(c) => {
                cuts += 1;
                drop(c);
            }
        }
        if let Some(o) = &s.current {
            assert!(o.next_off <= o.start + s.window, "read past the window");
            let held: u64 = o.blocks.iter().map(|b| b.data().len() as u64).sum();
            assert!(held <= s.window + BLOCK, "{held} bytes of blocks held");
        }
    }
    assert_eq!(cuts, boundaries(&data).len());
    assert!(s.board.lock().done.is_empty());
}

#[test]
fn a_scan_dropped_unrun_fails_its_file_instead_of_leaving_the_stream_waiting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), random(7, 6 << 20)).unwrap();
    let w = walk(&[dir.path().to_path_buf()], &[]).unwrap();
    let errors = Mutex::new(HashMap::new());
    let mut s = ChunkStream::new(&w.files, &errors, 1);
    let Some(Work::Scan(first)) = s.next() else {
        panic!("a stream starts with a scan")
    };
    drop(first);
    for w in s {
        if let Work::Scan(scan) = w {
            scan.run();
        }
    }
    let errors = errors.into_inner().unwrap();
    assert!(errors[&0].contains("dropped"), "{errors:?}");
}
