//! `shardnet bench --swarm`: backup and restore through a local swarm of real
//! node processes (3 copies), printed next to the raw throughput of 1 MiB
//! request-response between two in-process libp2p peers measured in the same
//! run. The swarm figure's target is a third of raw ÷ copies.

use super::Row;
use crate::api::client::ApiClient;
use crate::backup::BackupReport;
use crate::datadir::DataDir;
use crate::ops::{CreateRequest, RestoreRequest};
use crate::output::{self, mbps};
use crate::restore::RestoreReport;
use crate::swarm::{self, Event, SwarmConfig};
use anyhow::{bail, Context};
use shardnet_protocol::redundancy::{Policy, Scheme};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{Cipher, Lease, OwnerId, ShardId, Tier};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Rounds of raw request-response measured; the best is the limit.
const RAW_ROUNDS: usize = 3;
/// Requests in flight while measuring raw request-response.
const RAW_IN_FLIGHT: usize = 8;

/// Raw request-response MB/s: `n` 1 MiB store requests from one in-process
/// peer to another that answers without storing, the best of
/// [`RAW_ROUNDS`] rounds (a limit: one round alone moved by a third between
/// runs on this VM).
async fn raw_rr(n: usize) -> anyhow::Result<f64> {
    let listen: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/0".parse()?;
    let (b_client, b_loop, mut b_events) = swarm::new(SwarmConfig {
        keypair: libp2p::identity::Keypair::generate_ed25519(),
        listen: vec![listen.clone()],
        bootstrap: vec![],
        known: vec![],
        psk: None,
        metrics: None,
        max_memory: crate::config::DEFAULT_MAX_MEMORY,
    })?;
    let b_peer = b_client.local_peer_id();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(b_loop.run(stopped(stop_rx.clone())));
    let responder = b_client.clone();
    tokio::spawn(async move {
        while let Some(ev) = b_events.recv().await {
            if let Event::InboundRequest { channel, .. } = ev {
                responder.respond(channel, Response::Stored).await;
            }
        }
    });
    let b_addr = loop {
        let s = b_client.status().await.context("peer B stopped")?;
        if let Some(a) = s.listen.first() {
            break a.parse::<libp2p::Multiaddr>()?;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (a_client, a_loop, _a_events) = swarm::new(SwarmConfig {
        keypair: libp2p::identity::Keypair::generate_ed25519(),
        listen: vec![],
        bootstrap: vec![],
        known: vec![],
        psk: None,
        metrics: None,
        max_memory: crate::config::DEFAULT_MAX_MEMORY,
    })?;
    tokio::spawn(a_loop.run(stopped(stop_rx)));
    a_client.add_address(b_peer, b_addr).await;
    // One shared buffer, written from where it lies, as a backup's stores
    // are: the figure is the transport's, not the copies around it.
    let payload = bytes::Bytes::from(vec![0x5au8; 1 << 20]);
    // The receiver only answers: the lease is never checked.
    let lease = Lease {
        owner: OwnerId([0; 32]),
        expires_at: 0,
        copies: 1,
        sig: shardnet_protocol::lease::Sig([0; 64]),
    };
    let req = || Request::StoreProve {
        id: ShardId([0; 32]),
        leases: vec![lease],
        bytes: payload.clone(),
        avoid: None,
        nonce: [0; 32],
    };
    // Warm up the connection.
    a_client.request(b_peer, req()).await?;
    let mut best = 0f64;
    for _ in 0..RAW_ROUNDS {
        let t = Instant::now();
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(RAW_IN_FLIGHT));
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let permit = sem.clone().acquire_owned().await?;
            let (c, r) = (a_client.clone(), req());
            tasks.push(tokio::spawn(async move {
                let out = c.request(b_peer, r).await;
                drop(permit);
                out
            }));
        }
        for t in tasks {
            t.await??;
        }
        best = best.max(mbps((n as u64) << 20, t.elapsed()));
    }
    let _ = stop_tx.send(true);
    Ok(best)
}

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

/// The swarm bench's rows, each with its bound from the same run: raw
/// request-response for a restore, raw ÷ stored bytes per byte for a backup
/// (every byte goes out once per copy, or (K+M)/K times as pieces). CPU-s
/// per GB are every node process's together.
pub(super) fn run(
    work: &Path,
    size: u64,
    (nodes, policy): (usize, Option<Policy>),
) -> anyhow::Result<Vec<Row>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    eprintln!("measuring raw 1 MiB request-response between two peers...");
    let cpu = super::cpu_seconds();
    let raw = rt.block_on(raw_rr(256))?.max(f64::MIN_POSITIVE);
    let raw_cpu = super::cpu_seconds() - cpu;
    let limit = "request-response";
    let mut rows = vec![Row {
        // Over every round (and the warm-up's one request), both peers'.
        cpu_s_per_gb: raw_cpu
            .is_finite()
            .then(|| raw_cpu / ((RAW_ROUNDS as u64 * 256) << 20) as f64 * 1e9),
        ..Row::rate(
            format!("limit: libp2p request-response, 1 MiB, {RAW_IN_FLIGHT} in flight, best of {RAW_ROUNDS}"),
            256u64 << 20,
            raw,
            (limit, raw),
            "TCP+noise+yamux on 127.0.0.1, both peers in this process",
        )
    }];
    let scheme = stored_as(policy);
    eprintln!("starting {nodes} nodes...");
    let swarm = LocalSwarm::start(work, nodes, &[])?;
    let (clients, dds) = (&swarm.clients, &swarm.dds);
    eprintln!(
        "generating {} of incompressible data...",
        output::size(size)
    );
    let src = work.join("swarm-data");
    super::data::generate(&src, size, false, 64 << 20)?;
    let req = CreateRequest {
        paths: vec![src.clone()],
        tier: Tier::Silver,
        name: "swarm bench".into(),
        cipher: Cipher::Aes256Gcm,
        redundancy: policy,
    };
    let gb = size as f64 / 1e9;
    eprintln!("backing up on node 1...");
    let (t, cpu) = (Instant::now(), swarm.cpu_seconds());
    let r: BackupReport = clients[0].post("/v1/backup/create", &req)?;
    let (d, cpu) = (t.elapsed(), swarm.cpu_seconds() - cpu);
    rows.push(Row {
        cpu_s_per_gb: cpu.is_finite().then_some(cpu / gb),
        ..Row::rate(
            format!("swarm backup, {nodes} nodes, {}", kept_as(scheme)),
            size,
            mbps(size, d),
            (
                &format!("{limit} / {}", kept_as(scheme)),
                raw / scheme.overhead(),
            ),
            format!("{} shards", r.entry.shards),
        )
    });
    // Restore on the last node, which holds only some shards, after it takes the owner key.
    let key = std::fs::read_to_string(dds[0].owner_key_path())?;
    let last = dds.last().context("no nodes")?;
    let master = shardnet_protocol::MasterKey::from_recovery_string(&key)?;
    last.replace_owner_key(&master, output::now_unix())?;
    let dest = work.join("swarm-restore");
    eprintln!("restoring on node {nodes}...");
    let (t, cpu) = (Instant::now(), swarm.cpu_seconds());
    let rr: RestoreReport = clients[nodes - 1].post(
        "/v1/backup/restore",
        &RestoreRequest {
            id: r.entry.id,
            dest: dest.clone(),
            path: None,
            force: false,
        },
    )?;
    let (d, cpu) = (t.elapsed(), swarm.cpu_seconds() - cpu);
    if !rr.failed.is_empty() || rr.bytes != size {
        bail!("swarm restore incomplete: {:?}", rr.failed);
    }
    rows.push(Row {
        cpu_s_per_gb: cpu.is_finite().then_some(cpu / gb),
        ..Row::rate(
            format!("swarm restore on node {nodes}"),
            size,
            mbps(size, d),
            (limit, raw),
            format!("{} files", rr.files),
        )
    });
    swarm.remove();
    let _ = std::fs::remove_dir_all(&src);
    let _ = std::fs::remove_dir_all(&dest);
    Ok(rows)
}

/// How the bench's silver backup keeps its chunks under `policy`.
fn stored_as(policy: Option<Policy>) -> Scheme {
    policy
        .unwrap_or_default()
        .scheme(Tier::Silver.copies() as usize)
}

/// "3 copies", or "1.67 (rs 3+2)": the bytes stored per byte.
fn kept_as(scheme: Scheme) -> String {
    match scheme {
        Scheme::Replicate { copies } => format!("{copies} copies"),
        rs => format!("{:.2} ({rs})", rs.overhead()),
    }
}

/// Runs the swarm bench and prints its figures (a table, or JSON).
pub(crate) fn report(
    work: &Path,
    size: u64,
    (nodes, policy): (usize, Option<Policy>),
    json: bool,
) -> anyhow::Result<()> {
    let rows = run(work, size, (nodes, policy))?;
    let title = format!(
        "shardnet bench --swarm {nodes}: real node processes on 127.0.0.1, data in page cache"
    );
    super::print_rows(
        "swarm",
        serde_json::json!({ "nodes": nodes, "redundancy": stored_as(policy).to_string() }),
        &title,
        &rows,
        json,
    )
}
