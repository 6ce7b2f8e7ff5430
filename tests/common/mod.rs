//! Helpers for end-to-end tests: run the real `shardnet` binary against a
//! temporary data dir, with a deadline on every command.

#![allow(dead_code, unreachable_pub)]

/// Bits of admission work the test swarms ask of peer ids (the default, 20,
/// costs seconds per node); test attackers grind their ids to it too.
pub const ID_DIFFICULTY: u8 = 8;

pub mod liar;
pub mod netns;
pub mod swarm;

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

/// A `shardnet node run` child process with its own data dir and log file,
/// killed (by pid) when dropped, pass or fail.
pub struct NodeProc {
    pub name: String,
    pub data: PathBuf,
    pub log: PathBuf,
    /// The network namespace it runs in (None: the test's own).
    pub netns: Option<String>,
    child: Option<std::process::Child>,
}

impl NodeProc {
    /// Initialises `data` (if needed) and starts a node on 127.0.0.1.
    pub fn start(
        env: &Env,
        name: &str,
        zone: &str,
        bootstrap: Option<&str>,
        extra: &[&str],
    ) -> NodeProc {
        Self::start_with(env, name, zone, bootstrap, extra, &[])
    }

    /// As [`NodeProc::start`], with extra environment variables.
    pub fn start_with(
        env: &Env,
        name: &str,
        zone: &str,
        bootstrap: Option<&str>,
        extra: &[&str],
        vars: &[(&str, &str)],
    ) -> NodeProc {
        Self::start_in(env, name, zone, bootstrap, extra, vars, None)
    }

    /// As [`NodeProc::start_with`], inside network namespace `place.0`,
    /// listening on its address `place.1` (None: on 127.0.0.1 here).
    pub fn start_in(
        env: &Env,
        name: &str,
        zone: &str,
        bootstrap: Option<&str>,
        extra: &[&str],
        vars: &[(&str, &str)],
        place: Option<(&str, &str)>,
    ) -> NodeProc {
        let data = env.path(name);
        if !data.join("owner.key").exists() {
            env.run_in(&data, &["init"]).ok();
        }
        let log = env.path(&format!("{name}.log"));
        let listen = format!("/ip4/{}/tcp/0", place.map_or("127.0.0.1", |p| p.1));
        let ns = place.map(|p| p.0);
        let mut args = vec![
            "node",
            "run",
            "--listen",
            &listen,
            "--zone",
            zone,
            "--heartbeat-ms",
            "300",
            // Audits, vetting and quarantine paced for tests: copies are
            // re-proved every 5 s, a peer is vetted after 3 passed rounds,
            // and quarantined copies wait 5 s of passing proofs.
            "--audit-interval",
            "5s",
            "--vetting-proofs",
            "3",
            "--quarantine-grace",
            "5s",
        ];
        if let Some(b) = bootstrap {
            args.extend(["--bootstrap", b]);
        }
        args.extend_from_slice(extra);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = command(ns)
            .args(&args)
            .env("SHARDNET_DATA_DIR", &data)
            .env("SHARDNET_ID_DIFFICULTY", ID_DIFFICULTY.to_string())
            .env("RUST_LOG", "shardnet_node=info")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn node");
        let node = NodeProc {
            name: name.into(),
            data,
            log,
            netns: ns.map(String::from),
            child: Some(child),
        };
        node.wait_for(Duration::from_secs(30), "its control API", |n| {
            n.status(env).is_some()
        });
        node
    }

    pub fn status(&self, env: &Env) -> Option<serde_json::Value> {
        let r = self.run(env, &["node", "status", "--json"]);
        (r.code == 0).then(|| r.json())
    }

    /// This node's address for others to bootstrap from.
    pub fn addr(&self, env: &Env) -> String {
        let s = self.status(env).expect("node status");
        format!(
            "{}/p2p/{}",
            s["listen"][0].as_str().unwrap(),
            s["peer_id"].as_str().unwrap()
        )
    }

    pub fn run(&self, env: &Env, args: &[&str]) -> Run {
        env.run_ns(self.netns.as_deref(), &self.data, args)
    }

    /// The bytes this node's rebalancing and repair have sent so far.
    pub fn bytes_moved(&self, env: &Env) -> u64 {
        self.run(env, &["rebalance", "status", "--json"])
            .ok()
            .json()["bytes_moved"]
            .as_u64()
            .expect("rebalance status --json has bytes_moved")
    }

    /// Backs up `mib` MiB of seeded random bytes (`src-TIER/data.bin`) at
    /// `tier` through this node; returns the backup id and the source dir.
    pub fn backup_random(&self, env: &Env, tier: &str, seed: u64, mib: usize) -> (String, PathBuf) {
        let src = env.path(&format!("src-{tier}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("data.bin"), random_bytes(seed, mib << 20)).unwrap();
        let args = [
            "backup",
            "create",
            "--json",
            "--tier",
            tier,
            src.to_str().unwrap(),
        ];
        let v = self.run(env, &args).ok().json();
        (v["entry"]["id"].as_str().unwrap().to_string(), src)
    }

    pub fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&NodeProc) -> bool) {
        let start = Instant::now();
        while !cond(self) {
            if start.elapsed() > limit {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}; log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then the exit code (waits at most 20 s).
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        self.wait_exit(Duration::from_secs(20))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// The exit code, once the process has exited (waits at most `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.as_mut()?.try_wait().ok().flatten() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Zeroes the shard bytes in every RocksDB blob file of a stopped node's
/// store (each file's header and footer stay, so the store still opens and
/// writes), leaving its metadata intact: the node still believes it holds
/// healthy copies. (Zeroing whole files also breaks RocksDB's writes; that
/// case is left to the node's own health checks.)
pub fn rot_blobs(store: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(store).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "blob") {
            let mut bytes = std::fs::read(&p).unwrap();
            let len = bytes.len();
            if len > 256 {
                bytes[64..len - 64].fill(0);
                std::fs::write(&p, bytes).unwrap();
                n += 1;
            }
        }
    }
    n
}
