//! `shardnet node run|status`, `shardnet peers list`.

use super::{print_json, target, Target};
use crate::api::NodeStatus;
use crate::cli::{NodeCommand, PeersCommand, RunArgs};
use crate::config::{NodeConfig, Overrides};
use crate::datadir::DataDir;
use crate::membership::PeerInfo;
use crate::output;
use anyhow::{bail, Context};

pub(super) fn daemon(dd: &DataDir) -> anyhow::Result<crate::api::client::ApiClient> {
    match target(dd) {
        Target::Daemon(c) => Ok(c),
        Target::Local => bail!(
            "no node is running for {}: start one with `shardnet node run`",
            dd.root().display()
        ),
    }
}

fn run_node(dd: &DataDir, a: RunArgs) -> anyhow::Result<i32> {
    if !dd.is_initialised() {
        bail!(
            "{} is not initialised: run `shardnet init` first",
            dd.root().display()
        );
    }
    if let Target::Daemon(_) = target(dd) {
        bail!("a node is already running for {}", dd.root().display());
    }
    if let Some(offset) = &a.clock_offset {
        let d = humantime::parse_duration(offset).with_context(|| {
            format!("--clock-offset {offset:?}: give a duration such as 100d or 12h")
        })?;
        crate::output::set_clock_offset(d.as_secs());
        tracing::warn!("this node's clock runs {offset} ahead (--clock-offset)");
    }
    let cfg = NodeConfig::load(
        dd.root(),
        Overrides {
            // An empty list means the flag was not given.
            listen: Some(a.listen).filter(|l| !l.is_empty()),
            bootstrap: Some(a.bootstrap).filter(|l| !l.is_empty()),
            zone: a.zone,
            capacity: a.capacity,
            quota_per_owner: a.quota_per_owner,
            heartbeat_ms: a.heartbeat_ms,
            membership_refresh_secs: a.membership_refresh,
            membership_digest_secs: a.membership_digest,
            api_port: a.api_port,
            down_after_secs: a.down_after,
            patience_max_secs: a.patience_max,
            scan_interval_secs: a.scan_interval,
            parallel: a.parallel,
            bandwidth_limit: a.bandwidth_limit,
            audit_interval: a.audit_interval,
            quarantine_grace: a.quarantine_grace,
            vetting_proofs: a.vetting_proofs,
            scrub_period: a.scrub_period,
            scrub_tranquility: a.scrub_tranquility,
            trusted_peers: Some(a.trust_peer).filter(|l| !l.is_empty()),
            forget_after: a.forget_after,
            audit_retention: a.audit_retention,
            swarm_key: a.swarm_key,
            id_difficulty: a.id_difficulty,
            prune_purge_after: a.prune_purge_after,
            metrics_listen: a.metrics_listen,
            ..Default::default()
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(crate::daemon::run(
        dd.clone(),
        cfg,
        crate::daemon::signals(),
    ))?;
    Ok(0)
}

pub(super) fn run(dd: &DataDir, cmd: NodeCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        NodeCommand::Run(a) => run_node(dd, a),
        NodeCommand::Drain { cancel: true, .. } => {
            let st: crate::repair::RepairStatus =
                daemon(dd)?.post("/v1/node/drain/cancel", &serde_json::json!({}))?;
            if json {
                print_json(&st)?;
            } else {
                println!("drain ended: this node takes shards again");
            }
            Ok(0)
        }
        NodeCommand::Drain {
            no_wait, timeout, ..
        } => super::rebalance::drain(&daemon(dd)?, no_wait, timeout, json),
        NodeCommand::Health => health(dd, json),
        NodeCommand::Status => {
            let s: NodeStatus = daemon(dd)?.get("/v1/status")?;
            if json {
                print_json(&s)?;
                return Ok(0);
            }
            println!("peer id    {}", s.peer_id);
            println!("version    {}", s.version);
            println!("zone       {}", s.zone);
            println!("listening  {}", s.listen.join(" "));
            println!(
                "peers      {} connected, {} live in membership",
                s.connected_peers, s.live_peers
            );
            println!(
                "storage    {} of {} used, quota per owner {}{}",
                output::size(s.used),
                output::size(s.capacity),
                output::size(s.quota_per_owner),
                if s.draining { " (draining)" } else { "" }
            );
            println!("shards     {} ({} healthy, {} corrupted, {} quarantined), {} backups of this owner", s.store.shards, s.store.healthy, s.store.corrupted, s.store.quarantined, s.store.backups);
            println!(
                "admission  peer ids need {} bits of work; {} heartbeats from lighter ids ignored",
                s.id_difficulty, s.unadmitted_heartbeats
            );
            let p = s.pressure;
            println!(
                "load shed  {} requests busy (queue full), {} busy (over the response budget), {} gossip dropped, {} commands dropped; {} of responses waiting",
                p.requests_busy,
                p.requests_over_budget,
                p.gossip_dropped,
                p.commands_dropped,
                output::size(p.response_bytes_in_flight)
            );
            if let Some(m) = &s.metrics_listen {
                println!("metrics    http://{m}/metrics, http://{m}/health");
            }
            for a in &s.alerts {
                println!("ALERT      since {}: {}", output::time(a.since), a.message);
            }
            Ok(0)
        }
    }
}

fn reputation(dd: &DataDir, peer: Option<String>, why: bool, json: bool) -> anyhow::Result<i32> {
    let mut path = format!("/v1/peers/reputation?why={why}");
    if let Some(p) = &peer {
        path.push_str(&format!("&peer={p}"));
    }
    let list: Vec<crate::audit::PeerReputation> = daemon(dd)?.get(&path)?;
    print_reputation(&list, json)
}

fn print_reputation(list: &[crate::audit::PeerReputation], json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(&list)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.peer.clone(),
                format!("{:.3}", r.score),
                format!(
                    "{}{}",
                    r.standing,
                    if r.manual_isolation { " (by hand)" } else { "" }
                ),
                r.passed.to_string(),
                r.failed.to_string(),
                if r.last_at > 0 {
                    output::time(r.last_at)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    output::table(
        &["PEER", "SCORE", "STANDING", "PASSED", "FAILED", "LAST"],
        &rows,
    );
    for r in list.iter().filter(|r| !r.evidence.is_empty()) {
        println!("\n{}:", r.peer);
        for e in &r.evidence {
            println!(
                "  {}  {:<40} {}{}",
                output::time(e.at),
                e.evidence.name(),
                e.shard
                    .map(|s| format!("{} ", s.short()))
                    .unwrap_or_default(),
                e.detail
            );
        }
    }
    if list.is_empty() {
        eprintln!("no audit evidence yet");
    }
    Ok(0)
}

fn isolate(
    dd: &DataDir,
    peer: String,
    isolated: bool,
    reason: String,
    json: bool,
) -> anyhow::Result<i32> {
    let list: Vec<crate::audit::PeerReputation> = daemon(dd)?.post(
        "/v1/peers/isolate",
        &serde_json::json!({ "peer": peer, "isolated": isolated, "reason": reason }),
    )?;
    if !json {
        println!(
            "{peer} {}",
            if isolated {
                "isolated: no new shards go to it and its copies no longer count"
            } else {
                "no longer isolated by hand"
            }
        );
    }
    print_reputation(&list, json)
}

pub(super) fn peers(dd: &DataDir, cmd: PeersCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        PeersCommand::List => {}
        PeersCommand::Reputation { peer, why } => return reputation(dd, peer, why, json),
        PeersCommand::Isolate { peer, reason } => return isolate(dd, peer, true, reason, json),
        PeersCommand::Unisolate { peer, reason } => return isolate(dd, peer, false, reason, json),
    }
    let list: Vec<PeerInfo> = daemon(dd)?.get("/v1/peers")?;
    if json {
        print_json(&list)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                format!("{}{}", p.peer_id, if p.local { " (this node)" } else { "" }),
                p.heartbeat.zone.clone(),
                output::size(p.heartbeat.capacity),
                output::size(p.heartbeat.used),
                {
                    let mut st = format!("{:?}", p.state).to_lowercase();
                    if p.heartbeat.draining {
                        st.push_str(", draining");
                    }
                    if p.heartbeat.radius.is_some() {
                        // Over capacity: keeps only its closest shards.
                        st.push_str(", shedding");
                    }
                    st
                },
                format!("{:.1}s ago", p.last_seen_secs),
                p.heartbeat.addrs.join(" "),
            ]
        })
        .collect();
    output::table(
        &[
            "PEER",
            "ZONE",
            "CAPACITY",
            "USED",
            "STATE",
            "LAST SEEN",
            "ADDRESSES",
        ],
        &rows,
    );
    Ok(0)
}

fn health(dd: &DataDir, json: bool) -> anyhow::Result<i32> {
    use shardnet_protocol::health::{Check, Health, Level};
    let h: Health = match target(dd) {
        Target::Daemon(c) => c.get("/v1/health")?,
        Target::Local => Health {
            level: Level::Critical,
            score: 0.0,
            checks: vec![Check {
                name: "node".into(),
                level: Level::Critical,
                reason: format!(
                    "no node is running for {}: start one with `shardnet node run`",
                    dd.root().display()
                ),
            }],
        },
    };
    if json {
        print_json(&h)?;
    } else {
        println!("health {} (score {:.2})", h.level.name(), h.score);
        let rows: Vec<Vec<String>> = h
            .checks
            .iter()
            .map(|c| vec![c.name.clone(), c.level.name().to_string(), c.reason.clone()])
            .collect();
        output::table(&["CHECK", "LEVEL", "REASON"], &rows);
    }
    Ok(h.exit_code())
}
