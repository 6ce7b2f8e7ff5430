//! End-to-end tests of single-node backup and restore through the real binary.

mod common;

use common::{random_bytes, Env};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

/// A tree with large, small and empty files, an empty dir, symlinks, unicode.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("docs/deep/er")).unwrap();
    fs::create_dir_all(root.join("empty dir")).unwrap();
    fs::write(root.join("large.bin"), random_bytes(1, 13 << 20)).unwrap();
    fs::write(root.join("docs/notes.txt"), "some notes\n".repeat(5000)).unwrap();
    fs::write(root.join("docs/deep/er/tiny"), b"x").unwrap();
    fs::write(root.join("docs/empty"), b"").unwrap();
    fs::write(root.join("docs/ünïcødé — 文件 ✓.txt"), "unicode name\n").unwrap();
    fs::set_permissions(
        root.join("docs/deep/er/tiny"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink("docs/notes.txt", root.join("link-to-notes")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
}

#[derive(Debug, PartialEq)]
enum Node {
    Dir(u32),
    File(u32, i64, Vec<u8>),
    Link(String),
}

fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = fs::symlink_metadata(e.path()).unwrap();
        let node = if md.file_type().is_symlink() {
            Node::Link(
                fs::read_link(e.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if md.is_dir() {
            Node::Dir(md.mode() & 0o7777)
        } else {
            Node::File(md.mode() & 0o7777, md.mtime(), fs::read(e.path()).unwrap())
        };
        out.insert(rel, node);
    }
    out
}

#[test]
fn round_trip_of_a_mixed_tree() {
    let env = Env::new();
    env.run(&["init"]).ok();
    let src = env.path("tree");
    make_tree(&src);
    let (id, created) = env.backup(&[src.to_str().unwrap(), "--tier", "gold", "--name", "mixed"]);
    assert_eq!(created["entry"]["info"]["files"], 5);
    assert_eq!(created["entry"]["info"]["tier"], "Gold");

    let list = env.run(&["backup", "list", "--json"]).ok().json();
    assert_eq!(list[0]["id"], id.as_str());
    env.run(&["backup", "verify", &id, "--full"]).ok();

    let dest = env.path("restored");
    let r = env
        .run(&["backup", "restore", &id, dest.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(r["files"], 5);
    assert_eq!(snapshot(&src), snapshot(&dest.join("tree")));

    // Restoring again into the now non-empty directory is refused without --force.
    let again = env.run(&["backup", "restore", &id, dest.to_str().unwrap()]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
    env.run(&["backup", "restore", &id, dest.to_str().unwrap(), "--force"])
        .ok();
    assert_eq!(snapshot(&src), snapshot(&dest.join("tree")));

    // A sub-path alone.
    let part = env.path("part");
    env.run(&[
        "backup",
        "restore",
        &id,
        part.to_str().unwrap(),
        "--path",
        "tree/docs/deep",
    ])
    .ok();
    assert_eq!(fs::read(part.join("tree/docs/deep/er/tiny")).unwrap(), b"x");
    assert!(!part.join("tree/large.bin").exists());
    let missing = env.run(&[
        "backup",
        "restore",
        &id,
        env.path("p2").to_str().unwrap(),
        "--path",
        "nope",
    ]);
    assert!(
        missing.code != 0 && missing.stderr.contains("no path"),
        "{}",
        missing.stderr
    );
}

#[test]
fn second_backup_of_almost_unchanged_tree_stores_only_changed_shards() {
    let env = Env::new();
    env.run(&["init"]).ok();
    let src = env.path("data");
    fs::create_dir_all(&src).unwrap();
    for i in 0..3 {
        fs::write(
            src.join(format!("f{i}.bin")),
            random_bytes(10 + i, 12 << 20),
        )
        .unwrap();
    }
    let (_, first) = env.backup(&[src.to_str().unwrap()]);
    let shards_before = env
        .run(&["shards", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(first["entry"]["new_shards"], first["entry"]["shards"]);

    // Insert a few bytes in the middle of one file: content-defined chunking keeps
    // the other chunks of that file, and the other files are untouched.
    let mut data = fs::read(src.join("f1.bin")).unwrap();
    data.splice(6_000_000..6_000_000, b"an edit".iter().copied());
    fs::write(src.join("f1.bin"), data).unwrap();
    let (id2, second) = env.backup(&[src.to_str().unwrap()]);
    let new = second["entry"]["new_shards"].as_u64().unwrap();
    let total = second["entry"]["shards"].as_u64().unwrap();
    // At most 2 changed chunks, 1 manifest piece and the root.
    assert!(new <= 4, "{new} new shards of {total}");
    assert!(total >= 30, "{total}");
    let shards_after = env
        .run(&["shards", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(shards_after as u64, shards_before as u64 + new);
    let dest = env.path("out");
    env.run(&["backup", "restore", &id2, dest.to_str().unwrap()])
        .ok();
    assert_eq!(
        fs::read(dest.join("data/f1.bin")).unwrap(),
        fs::read(src.join("f1.bin")).unwrap()
    );
}

/// The store's first segment file (where its first big shards are).
fn first_segment(store: &Path) -> std::path::PathBuf {
    fs::read_dir(store.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .min()
        .expect("a segment file")
}

#[test]
fn corrupted_shard_is_detected_named_and_reported() {
    let env = Env::new();
    env.run(&["init"]).ok();
    let src = env.path("data");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), random_bytes(7, 6 << 20)).unwrap();
    fs::write(src.join("b.txt"), b"small file kept inline").unwrap();
    let (id, _) = env.backup(&[src.to_str().unwrap()]);

    // Bit rot on disk: flip bytes inside the first shard of the first segment.
    let seg = first_segment(&env.data_dir().join("store"));
    let mut bytes = fs::read(&seg).unwrap();
    for b in &mut bytes[1000..1016] {
        *b ^= 0xff;
    }
    fs::write(&seg, bytes).unwrap();

    let v = env.run(&["backup", "verify", &id, "--full", "--json"]);
    assert_eq!(v.code, 1, "{} {}", v.stdout, v.stderr);
    let report = v.json();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    let bad = problems[0]["shard"].as_str().unwrap().to_string();
    assert_eq!(problems[0]["used_by"][0], "data/a.bin");

    // The store now lists it as corrupted.
    let corrupted = env
        .run(&["shards", "list", "--status", "corrupted", "--json"])
        .ok()
        .json();
    let ids: Vec<&str> = corrupted
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bad.as_str()]);

    // Restore names the file and the shard, restores the rest, exits non-zero.
    let dest = env.path("out");
    let r = env.run(&["backup", "restore", &id, dest.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("data/a.bin") && r.stderr.contains(&bad),
        "{}",
        r.stderr
    );
    assert!(
        !dest.join("data/a.bin").exists(),
        "a partial file was left behind"
    );
    assert_eq!(
        fs::read(dest.join("data/b.txt")).unwrap(),
        b"small file kept inline"
    );
}

#[test]
fn keys_move_between_data_dirs_and_wrong_key_is_named() {
    let env = Env::new();
    env.run(&["init"]).ok();
    let src = env.path("data");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"secret").unwrap();
    let (id, _) = env.backup(&[src.to_str().unwrap()]);
    let key = env.run(&["keys", "export"]).ok().stdout.trim().to_string();
    assert!(key.starts_with("snk1-"), "{key}");

    // Another key in this data dir cannot open the backup.
    let other = env.path("other");
    env.run_in(&other, &["init"]).ok();
    let other_key = env
        .run_in(&other, &["keys", "export"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let refused = env.run(&["keys", "import", &other_key]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("different owner key"),
        "{}",
        refused.stderr
    );
    env.run(&["keys", "import", &other_key, "--force"]).ok();
    let r = env.run(&["backup", "restore", &id, env.path("o1").to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("cannot be decrypted with this owner key"),
        "{}",
        r.stderr
    );

    // The original key, imported back, restores it.
    env.run(&["keys", "import", &key, "--force"]).ok();
    env.run(&["backup", "restore", &id, env.path("o2").to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(env.path("o2/data/f")).unwrap(), b"secret");

    // A mistyped recovery string is caught by its checksum.
    let mut typo: Vec<char> = key.chars().collect();
    typo[8] = if typo[8] == 'a' { 'b' } else { 'a' };
    let t: String = typo.into_iter().collect();
    let bad = env.run_in(&env.path("third"), &["keys", "import", &t]);
    assert!(
        bad.code != 0 && bad.stderr.contains("checksum"),
        "{}",
        bad.stderr
    );
}

#[test]
fn bad_input_gets_clear_errors() {
    let env = Env::new();
    // Not initialised.
    let r = env.run(&["backup", "list"]);
    assert!(
        r.code != 0 && r.stderr.contains("shardnet init"),
        "{}",
        r.stderr
    );
    env.run(&["init"]).ok();
    // Init twice never overwrites the key.
    let r = env.run(&["init"]);
    assert!(
        r.code != 0 && r.stderr.contains("refusing to overwrite"),
        "{}",
        r.stderr
    );
    // Bad arguments.
    let r = env.run(&["backup", "create", "x", "--tier", "platinum"]);
    assert!(
        r.code == 2 && r.stderr.contains("unknown tier"),
        "{}",
        r.stderr
    );
    let r = env.run(&["backup", "show", "not-an-id"]);
    assert!(
        r.code == 2 && r.stderr.contains("64 hexadecimal"),
        "{}",
        r.stderr
    );
    let unknown = "ab".repeat(32);
    let r = env.run(&["backup", "restore", &unknown, "out"]);
    assert!(
        r.code == 1 && r.stderr.contains("no backup"),
        "{}",
        r.stderr
    );
    // Unreadable sources are reported, the rest is backed up, exit status 3.
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("ok"), b"fine").unwrap();
    let fifo = src.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let missing = env.path("does-not-exist");
    let r = env.run(&[
        "backup",
        "create",
        src.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("does-not-exist") && r.stderr.contains("fifo"),
        "{}",
        r.stderr
    );
    let list = env.run(&["backup", "list", "--json"]).ok().json();
    assert_eq!(list[0]["info"]["files"], 1);
}

#[test]
fn own_data_dir_is_never_backed_up() {
    let env = Env::new();
    env.run(&["init"]).ok();
    fs::write(env.path("file"), b"payload").unwrap();
    // The whole scratch dir, which contains the node's data dir.
    let (id, v) = env.backup(&[env.tmp.path().to_str().unwrap()]);
    assert_eq!(v["entry"]["info"]["files"], 1, "{v}");
    let shown = env
        .run(&["backup", "show", &id, "--files", "--json"])
        .ok()
        .json();
    let paths: Vec<&str> = shown["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().all(|p| !p.contains("node-data")), "{paths:?}");
}

#[test]
fn a_data_dir_open_to_others_is_refused_at_start_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.run(&["init"]).ok();
    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = env.run(&["node", "run", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("writable by group or others") && r.stderr.contains("chmod 700"),
        "{}",
        r.stderr
    );
}

/// A destination that already holds a symlink where the backup has a
/// directory (planted by another process, or left over): restore --force
/// refuses to write through it, and nothing lands where it points. A
/// destination others can write is refused outright.
#[test]
fn a_symlink_in_the_destination_is_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.run(&["init"]).ok();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d").join("file"), b"secret plans").unwrap();
    let (id, _) = env.backup(&[src.to_str().unwrap()]);
    let dest = env.path("dest");
    let outside = env.path("outside");
    std::fs::create_dir_all(dest.join("src")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("src").join("d")).unwrap();
    let r = env.run(&["backup", "restore", &id, dest.to_str().unwrap(), "--force"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("is a symlink inside the destination"),
        "{}",
        r.stderr
    );
    assert!(!outside.join("file").exists(), "wrote through the symlink");

    let open = env.path("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = env.run(&["backup", "restore", &id, open.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("writable by group or others"),
        "{}",
        r.stderr
    );
}
