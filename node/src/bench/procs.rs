//! Node processes for the benches that need a swarm (`--swarm`,
//! `--churn`): each a real `shardnet daemon` of this binary on 127.0.0.1,
//! with its own data directory, killed (by pid) when dropped.

use crate::api::client::ApiClient;
use crate::datadir::DataDir;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn shardnet(data: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("shardnet")));
    // Throughput, not identity cost, is measured here: light ids.
    c.env("SHARDNET_DATA_DIR", data)
        .env("SHARDNET_ID_DIFFICULTY", "8")
        .stdin(Stdio::null());
    c
}

fn start_node(
    work: &Path,
    i: usize,
    boot: Option<&str>,
    extra: &[&str],
) -> anyhow::Result<(Proc, ApiClient, DataDir)> {
    let data = work.join(format!("node{i}"));
    let status = shardnet(&data).arg("init").stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("init of node {i} failed");
    }
    let mut cmd = shardnet(&data);
    cmd.args([
        "node",
        "run",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--heartbeat-ms",
        "300",
        "--zone",
    ])
    .arg(format!("zone{}", i % 3));
    if let Some(b) = boot {
        cmd.args(["--bootstrap", b]);
    }
    cmd.args(extra);
    let log = std::fs::File::create(work.join(format!("node{i}.log")))?;
    let child = Proc(cmd.stdout(log.try_clone()?).stderr(log).spawn()?);
    let dd = DataDir::new(&data);
    let start = Instant::now();
    loop {
        if let Some(c) = ApiClient::connect(&dd) {
            return Ok((child, c, dd));
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!(
                "node {i} did not start; see {}",
                work.join(format!("node{i}.log")).display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Node processes started by a benchmark, killed when dropped.
pub(crate) struct LocalSwarm {
    pub(crate) procs: Vec<Option<Proc>>,
    pub(crate) clients: Vec<ApiClient>,
    pub(crate) dds: Vec<DataDir>,
}

impl LocalSwarm {
    /// Starts `nodes` nodes in 3 zones, bootstrapped from the first, and waits
    /// until each sees all.
    pub(crate) fn start(work: &Path, nodes: usize, extra: &[&str]) -> anyhow::Result<LocalSwarm> {
        let (first, c1, dd1) = start_node(work, 1, None, extra)?;
        let s: crate::api::NodeStatus = c1.get("/v1/status")?;
        let boot = format!(
            "{}/p2p/{}",
            s.listen.first().context("node 1 has no address")?,
            s.peer_id
        );
        let mut sw = LocalSwarm {
            procs: vec![Some(first)],
            clients: vec![c1],
            dds: vec![dd1],
        };
        for i in 2..=nodes {
            let (p, c, d) = start_node(work, i, Some(&boot), extra)?;
            sw.procs.push(Some(p));
            sw.clients.push(c);
            sw.dds.push(d);
        }
        let start = Instant::now();
        while sw.clients.iter().any(|c| {
            c.get::<Vec<crate::membership::PeerInfo>>("/v1/peers")
                .map_or(true, |v| v.iter().filter(|p| p.live).count() < nodes)
        }) {
            if start.elapsed() > Duration::from_secs(60) {
                bail!("the swarm did not converge within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(sw)
    }

    /// CPU seconds (user + system, every thread) the live node processes
    /// used so far, from `/proc/<pid>/stat` (NaN where it cannot be read).
    pub(crate) fn cpu_seconds(&self) -> f64 {
        // SAFETY: sysconf only reads a configuration value.
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        self.procs
            .iter()
            .flatten()
            .map(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.0.id()));
                // The command name may hold spaces: fields count from its `)`.
                let ticks = stat.ok().and_then(|s| {
                    let f: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split_whitespace().collect();
                    Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
                });
                ticks.map_or(f64::NAN, |t| t / tick)
            })
            .sum()
    }

    /// `kill -9` node `i` (0-based).
    pub(crate) fn kill(&mut self, i: usize) {
        self.procs[i] = None;
    }

    /// Stops every node and removes its data directory (the logs stay): the
    /// stores hold gigabytes, and a later run in the same `--dir` would find
    /// their keys and refuse to start.
    pub(crate) fn remove(mut self) {
        self.procs.clear();
        for d in &self.dds {
            let _ = std::fs::remove_dir_all(d.root());
        }
    }
}
