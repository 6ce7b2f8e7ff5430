//! A `shardnet node run` child process for end-to-end tests: started on
//! 127.0.0.1 (or in a test's network namespace) with its own data dir and
//! log file, asked over its control API, stopped or killed by pid.

use super::*;

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
            // `SHARDNET_E2E_LOG` (a `RUST_LOG` filter) turns up the nodes'
            // logs to diagnose a failure, e.g. `shardnet_node::repair=debug`.
            .env(
                "RUST_LOG",
                std::env::var("SHARDNET_E2E_LOG").unwrap_or_else(|_| "shardnet_node=info".into()),
            )
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
