//! Helpers for end-to-end tests: run the real `shardnet` binary against a
//! temporary data dir, with a deadline on every command.

#![allow(dead_code, unreachable_pub)]

/// Bits of admission work the test swarms ask of peer ids (the default, 20,
/// costs seconds per node); test attackers grind their ids to it too.
pub const ID_DIFFICULTY: u8 = 8;

pub mod liar;
pub mod netns;
mod node;
pub mod swarm;

pub use node::NodeProc;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline for any single CLI command in a test.
const COMMAND_DEADLINE: Duration = Duration::from_secs(180);

/// The binary under test: `SHARDNET_BIN` if set, else the one Cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("SHARDNET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_shardnet")))
}

/// `shardnet`, or `ip netns exec NS shardnet` (which execs it: the pid is
/// the node's own).
fn command(ns: Option<&str>) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin());
            c
        }
        None => Command::new(bin()),
    }
}

/// A data dir plus a scratch area, removed on drop.
pub struct Env {
    pub tmp: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.stdout))
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            // SHARDNET_E2E_KEEP=1 keeps the directory (node logs, stores)
            // for a post-mortem.
            tmp: tempfile::Builder::new()
                .prefix("shardnet-e2e-")
                .disable_cleanup(std::env::var_os("SHARDNET_E2E_KEEP").is_some())
                .tempdir()
                .unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("node-data")
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Runs `shardnet ARGS` with this env's data dir, killing it at the deadline.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.data_dir(), args)
    }

    pub fn run_in(&self, data_dir: &Path, args: &[&str]) -> Run {
        self.run_ns(None, data_dir, args)
    }

    /// As [`Env::run_in`], inside network namespace `ns` if given (as a
    /// node that runs there must be asked: its API is on that namespace's
    /// loopback).
    pub fn run_ns(&self, ns: Option<&str>, data_dir: &Path, args: &[&str]) -> Run {
        let mut child = command(ns)
            .args(args)
            .env("SHARDNET_DATA_DIR", data_dir)
            .env("SHARDNET_ID_DIFFICULTY", ID_DIFFICULTY.to_string())
            .current_dir(self.tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shardnet");
        // Drain both pipes while waiting: an output over the pipe buffer
        // (64 KiB) would otherwise block the child forever.
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                v
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout")));
        let err = drain(Box::new(child.stderr.take().expect("stderr")));
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > COMMAND_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                // What the command and its node were doing: a hang leaves
                // nothing else behind once the test's directory is gone.
                let stderr = err.join().unwrap_or_default();
                let log =
                    std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(120).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "shardnet {args:?} exceeded {COMMAND_DEADLINE:?}; its stderr:\n{}\nthe last lines of its node's log:\n{}",
                    String::from_utf8_lossy(&stderr),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = out.join().expect("stdout reader");
        let stderr = err.join().expect("stderr reader");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// `backup create --json` and return the backup id.
    pub fn backup(&self, args: &[&str]) -> (String, serde_json::Value) {
        let mut a = vec!["backup", "create", "--json"];
        a.extend_from_slice(args);
        let r = self.run(&a).ok();
        let v = r.json();
        (v["entry"]["id"].as_str().expect("id").to_string(), v)
    }
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.finalize_xof().fill(&mut v);
    v
}

/// Zeroes the shard bytes of a stopped node's store behind its back: every
/// segment file (where shards of 64 KiB and more live), and the payload of
/// every RocksDB blob file (stores written before segments; each file's
/// header and footer stay, so the store still opens and writes). Metadata
/// stays intact: the node still believes it holds healthy copies. Returns
/// how many files it rotted.
pub fn rot_shard_files(store: &std::path::Path) -> usize {
    let mut n = 0;
    let segments = std::fs::read_dir(store.join("segments"))
        .into_iter()
        .flatten();
    for e in std::fs::read_dir(store).unwrap().chain(segments) {
        let p = e.unwrap().path();
        let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
        let mut bytes = match ext {
            "blob" | "seg" => std::fs::read(&p).unwrap(),
            _ => continue,
        };
        let len = bytes.len();
        if ext == "seg" && len > 0 {
            bytes.fill(0);
        } else if len > 256 {
            bytes[64..len - 64].fill(0);
        } else {
            continue;
        }
        std::fs::write(&p, bytes).unwrap();
        n += 1;
    }
    n
}
