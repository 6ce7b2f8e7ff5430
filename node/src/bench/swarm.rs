//! `shardnet bench --swarm`: backup and restore through a local swarm of real
//! node processes (3 copies), printed next to the raw throughput of 1 MiB
//! request-response between two in-process libp2p peers measured in the same
//! run. The swarm figure's target is a third of raw ÷ copies.

use super::procs::LocalSwarm;
use super::Row;
use crate::backup::BackupReport;
use crate::ops::{CreateRequest, RestoreRequest};
use crate::output::{self, mbps};
use crate::restore::RestoreReport;
use crate::swarm::{self, Event, SwarmConfig};
use anyhow::{bail, Context};
use shardnet_protocol::redundancy::{Policy, Scheme};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::{Cipher, Lease, OwnerId, ShardId, Tier};
use std::path::Path;
use std::time::Instant;

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
    let b_addr = b_client
        .first_listen_addr()
        .await
        .context("peer B stopped before it listened")?;
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
    eprintln!("measuring the single-core stages of a backup...");
    let stages = super::bound::from_limits(work, &super::limits::hash_and_seal())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let transport = rows[0].cpu_s_per_gb.unwrap_or(0.0);
    let pieces = !matches!(scheme, Scheme::Replicate { .. });
    let work_bound = stages.swarm_bound(cores, scheme.overhead(), pieces, transport);
    rows.push(Row::rate(
        format!("limit: swarm backup work on {cores} cores"),
        size,
        work_bound,
        (
            &format!("{limit} / {}", kept_as(scheme)),
            raw / scheme.overhead(),
        ),
        format!(
            "{cores} cores ÷ per byte: backup work + per byte stored ({:.2}): the transport's CPU (above) and 2 BLAKE3; writes not counted",
            scheme.overhead()
        ),
    ));
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
            format!(
                "{} shards; {:.0}% of the work bound",
                r.entry.shards,
                100.0 * mbps(size, d) / work_bound
            ),
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
