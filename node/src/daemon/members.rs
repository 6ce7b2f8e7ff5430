//! The daemon's membership task: once a heartbeat period it records its own
//! heartbeat, publishes it only when it changed enough to matter, a refresh
//! is due, or it must speak (a refutation, a healed partition); it watches
//! its ring neighbours with direct `Hello` probes, tells the swarm once when
//! one of them falls silent, checks the peers others report, and pulls the
//! member list from a connected peer once at start (a joiner would otherwise
//! wait a refresh to hear the swarm). Every record is signed by the peer it
//! describes, whoever hands it on, and a relayed one counts as news only
//! from when it was signed.

use super::persist::{save_known_peers, save_radius};
use crate::config::NodeConfig;
use crate::datadir::DataDir;
use crate::membership::{Announcement, Heartbeat, SignedHeartbeat, View, LIVE_PERIODS};
use crate::repair::Repair;
use crate::storage::Usage;
use crate::swarm::{Client, MEMBERSHIP_TOPIC};
use libp2p::PeerId;
use shardnet_protocol::digest;
use shardnet_protocol::netzone;
use shardnet_protocol::ring::worth_publishing;
use shardnet_protocol::wire::{self, Request, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tracing::{debug, info};

/// Probes in flight at once (ring neighbours, reported peers, a joiner's
/// hints): bounds what a flood of `Down` reports or a long member list
/// can make this node do.
const PROBES_IN_FLIGHT: usize = 32;
/// Periods between two heartbeats published because a neighbour returned.
const REPUBLISH_GAP: u32 = 10;
/// Silences told to the swarm per period; more are dropped (hints: each
/// costs every node a signature check per mesh copy, and makes it probe).
const TELLS_PER_PERIOD: usize = 2;
/// Ticks between two member-list pulls while none has succeeded yet.
const PULL_EVERY: u32 = 5;
/// Least time between two writes of the known-peers file. It keeps 32
/// peers to dial after a restart; writing it at every change of the live
/// set cost a joining node a full listing of the view and a file write
/// each period (8% of all CPU while 200 nodes started in one process).
const KNOWN_SAVE_GAP: Duration = Duration::from_secs(60);

/// How a record reached this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Via {
    /// From its member: gossip it published, or its answer to a probe.
    Member(PeerId),
    /// Handed on by another node (a `Members` answer): news from when it
    /// was signed, if not older than a live window allows.
    Relay,
}

/// Clock skew tolerated on a relayed record's time.
const SKEW_SECS: u64 = 600;

/// Takes a signed heartbeat: verified as its member's, from that member
/// when it says it came from it, admitted, fresh enough if relayed; then
/// the view, a repair scan if placement changed, and its addresses for the
/// swarm when they are new. Never waits on the event loop.
pub(super) fn accept(
    view: &View,
    client: &Client,
    repair: &Repair,
    rec: SignedHeartbeat,
    via: Via,
) {
    let source = match rec.verify() {
        Ok(p) => p,
        Err(e) => {
            debug!(?via, "heartbeat ignored: {e}");
            return;
        }
    };
    if matches!(via, Via::Member(p) if p != source) {
        debug!(?via, peer = %source, "heartbeat ignored: not the sender's own");
        return;
    }
    if source == view.local() {
        return;
    }
    if !view.admits(&source) {
        debug!(peer = %source, "heartbeat ignored: the peer id lacks admission work");
        return;
    }
    let now = Instant::now();
    let seen = match via {
        Via::Member(_) => now,
        Via::Relay => {
            let max_age = (view.refresh() * 2).as_secs().max(1);
            let Some(age) = rec.age(crate::output::now_unix(), max_age, SKEW_SECS) else {
                debug!(peer = %source, "relayed heartbeat ignored: too old, or dated ahead");
                return;
            };
            now.checked_sub(Duration::from_secs(age)).unwrap_or(now)
        }
    };
    // A peer seen at a public address may not point this node at loopback
    // or private ones.
    let seen_ip = view.observed_ip(&source);
    let addrs: Vec<libp2p::Multiaddr> = rec
        .hb
        .addrs
        .iter()
        .filter_map(|a| a.parse::<libp2p::Multiaddr>().ok())
        .filter(|addr| {
            crate::swarm::ip_of(addr).is_none_or(|ip| netzone::announced_addr_allowed(seen_ip, ip))
        })
        .collect();
    let new_addrs = view.announces_new_addrs(&source, &rec.hb.addrs);
    let joined = view.heard_record(source, rec, seen);
    if joined {
        info!(peer = %source, "peer joined or changed");
        repair.kick();
    }
    // Addresses go to the swarm when they change or the peer (re)joins, not
    // with every heartbeat.
    if (new_addrs || joined)
        && !addrs
            .into_iter()
            .all(|addr| client.try_add_address(source, addr))
    {
        view.forget_addrs(&source);
    }
}

/// Probes run in the background, at most [`PROBES_IN_FLIGHT`] at once.
#[derive(Clone)]
struct Prober {
    client: Client,
    view: Arc<View>,
    repair: Arc<Repair>,
    slots: Arc<Semaphore>,
    /// How long a member-list pull may take (probes scale their own,
    /// `View::probe_timeout`).
    pull_timeout: Duration,
}

impl Prober {
    /// Sends `peer` a `Hello`. Its heartbeat counts as hearing it; any other
    /// answer (`Busy` under load) still proves it is there; no answer within
    /// the live window is this node's evidence of a silence. Returns false
    /// when no slot was free (the probe is not sent).
    fn probe(&self, peer: PeerId) -> bool {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return false;
        };
        let me = self.clone();
        tokio::spawn(async move {
            let asked = me.client.request(peer, Request::Hello);
            match tokio::time::timeout(me.view.probe_timeout(), asked).await {
                Ok(Ok(Response::Hello(rec))) => {
                    me.view.probe_answered();
                    accept(&me.view, &me.client, &me.repair, rec, Via::Member(peer))
                }
                Ok(Ok(_)) => {
                    me.view.probe_answered();
                    me.view.pinged(&peer)
                }
                Ok(Err(e)) => {
                    debug!(%peer, "probe failed: {e}");
                    me.view.probe_failed(&peer);
                }
                Err(_) => {
                    debug!(%peer, health = me.view.health_score(), "probe timed out");
                    me.view.probe_timed_out(&peer);
                }
            }
            drop(slot);
        });
        true
    }

    /// Asks `from` for the records of the peers it knows live and takes
    /// each that verifies as its member's and is fresh enough. Returns
    /// whether `from` answered.
    async fn pull(&self, from: PeerId) -> bool {
        let asked = self.client.request(from, Request::Members);
        let records = match tokio::time::timeout(self.pull_timeout, asked).await {
            Ok(Ok(Response::Members(r))) if wire::check_members(&r) => r,
            _ => return false,
        };
        let n = records.len();
        for rec in records {
            accept(&self.view, &self.client, &self.repair, rec, Via::Relay);
        }
        info!(%from, records = n, "pulled the member list");
        true
    }

    /// Reconciles this node's member list with `with` (`protocol::digest`):
    /// sends its digest, pulls the records `with` summarises as newer or
    /// unknown here, and takes each that verifies, as `pull` does. Returns
    /// the summaries and records received, or None if `with` did not
    /// answer in time.
    async fn reconcile(&self, with: PeerId) -> Option<(usize, usize)> {
        let own = self.view.digest_entries();
        let buckets = digest::Digest::of(&own).0;
        let asked = self.client.request(with, Request::Digest { buckets });
        let summaries = match tokio::time::timeout(self.pull_timeout, asked).await {
            Ok(Ok(Response::Summaries(s))) if wire::check_summaries(&s) => s,
            _ => return None,
        };
        let prefixes = digest::wanted(&own, &summaries);
        if prefixes.is_empty() {
            return Some((summaries.len(), 0));
        }
        let asked = self.client.request(with, Request::Records { prefixes });
        let records = match tokio::time::timeout(self.pull_timeout, asked).await {
            Ok(Ok(Response::Members(r))) if wire::check_members(&r) => r,
            _ => return None,
        };
        let n = records.len();
        for rec in records {
            accept(&self.view, &self.client, &self.repair, rec, Via::Relay);
        }
        Some((summaries.len(), n))
    }
}

/// Runs one reconciliation with a random connected peer, off the task
/// whose ticks must keep coming.
fn reconcile_with_one(
    prober: &Prober,
    connected: &[String],
) -> Option<tokio::task::JoinHandle<()>> {
    use rand::seq::SliceRandom;
    let with = connected
        .choose(&mut rand::thread_rng())?
        .parse::<PeerId>()
        .ok()?;
    let p = prober.clone();
    Some(tokio::spawn(async move {
        match p.reconcile(with).await {
            Some((summaries, pulled)) => {
                debug!(%with, summaries, pulled, "reconciled the member list by digest")
            }
            None => debug!(%with, "digest reconciliation got no answer"),
        }
    }))
}

/// The membership task (see the module doc); ends when `stop` turns true.
pub(super) async fn run(
    (client, view, usage, identity): (Client, Arc<View>, Arc<Usage>, libp2p::identity::Keypair),
    (cfg, repair, dd): (NodeConfig, Arc<Repair>, DataDir),
    mut stop: watch::Receiver<bool>,
) {
    let local = view.local();
    let prober = Prober {
        client: client.clone(),
        view: view.clone(),
        repair: repair.clone(),
        slots: Arc::new(Semaphore::new(PROBES_IN_FLIGHT)),
        pull_timeout: cfg.heartbeat * LIVE_PERIODS,
    };
    let mut tick = tokio::time::interval(cfg.heartbeat);
    // Dated after the last run's leave, or peers would ignore them.
    let floor = super::persist::record_floor(&dd, crate::output::now_unix());
    let mut saved: Vec<PeerId> = Vec::new();
    let mut saved_at: Option<Instant> = None;
    let mut radius = usage.radius();
    let mut published: Option<(Heartbeat, Instant)> = None;
    let mut pulled = false;
    let mut pull: Option<tokio::task::JoinHandle<bool>> = None;
    let mut ticks: u32 = 0;
    let mut asked = false;
    let mut reconciled = Instant::now();
    let mut reconciling: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            due = tick.tick() => view.lagged(due.elapsed()),
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
        if view.is_leaving() {
            // Stopping: its leave is out, and a new record would undo it.
            break;
        }
        ticks = ticks.wrapping_add(1);
        let status = client.status().await;
        let listen = status
            .as_ref()
            .map(|s| s.listen.clone())
            .unwrap_or_default();
        let hb = super::heartbeat(&cfg, &usage, &listen);
        if hb.radius != radius {
            radius = hb.radius;
            save_radius(&dd, cfg.capacity, radius);
        }
        let issued = crate::output::now_unix().max(floor);
        let rec = SignedHeartbeat::sign(&identity, hb.clone(), issued);
        if view.heard_record(local, rec.clone(), Instant::now()) {
            // This node's own draining flag, zone or radius changed.
            repair.kick();
        }
        let refresh_due = published
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= cfg.membership_refresh);
        // A returning neighbour asks this node to speak (a healed
        // partition): at most once per `REPUBLISH_GAP` periods, so that
        // neighbours flapping under load do not make it gossip every tick.
        asked |= view.take_republish();
        let gap_passed = published
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= cfg.heartbeat * REPUBLISH_GAP);
        if refresh_due
            || (asked && gap_passed)
            || worth_publishing(published.as_ref().map(|p| &p.0), &hb)
        {
            // Not sent (no peer yet): tried again next tick.
            if client
                .publish_checked(MEMBERSHIP_TOPIC, Announcement::Heartbeat(rec).encode())
                .await
            {
                published = Some((hb, Instant::now()));
                asked = false;
            }
        }
        view.update_watched();
        for peer in view.newly_silent().into_iter().take(TELLS_PER_PERIOD) {
            info!(%peer, "ring neighbour silent: telling the swarm (others check it themselves)");
            let msg = Announcement::Down(peer.to_bytes()).encode();
            client.publish(MEMBERSHIP_TOPIC, msg).await;
        }
        let log_dials = tracing::enabled!(target: "shardnet::dials", tracing::Level::DEBUG);
        for (peer, why) in view.probes_due_why(PROBES_IN_FLIGHT) {
            if log_dials && !client.is_connected(&peer) {
                debug!(target: "shardnet::dials", %peer, why = why.name(), "probe needs a dial");
            }
            prober.probe(peer);
        }
        // The pull probes each new peer: off this task, whose ticks must keep
        // coming. A failed pull is asked again `PULL_EVERY` ticks later.
        if let Some(p) = pull.take_if(|p| p.is_finished()) {
            pulled = matches!(p.await, Ok(true));
        }
        if !pulled && pull.is_none() && ticks % PULL_EVERY == 1 {
            let connected = status
                .as_ref()
                .map(|s| s.connected.clone())
                .unwrap_or_default();
            if let Some(from) = connected.iter().find_map(|p| p.parse::<PeerId>().ok()) {
                let p = prober.clone();
                pull = Some(tokio::spawn(async move { p.pull(from).await }));
            }
        }
        // Reconcile by digest once a `membership_digest`, one round at a
        // time: it heals what gossip missed, so changes need not be
        // gossiped again at every refresh.
        reconciling.take_if(|r| !r.is_finished());
        if !cfg.membership_digest.is_zero()
            && reconciling.is_none()
            && reconciled.elapsed() >= cfg.membership_digest
        {
            let connected = status
                .as_ref()
                .map(|s| s.connected.clone())
                .unwrap_or_default();
            reconciling = reconcile_with_one(&prober, &connected);
            reconciled = Instant::now();
        }
        // Remember peers when the set of live peers changed, at most once
        // per `KNOWN_SAVE_GAP` (at once the first time), and at the end.
        if saved_at.is_none_or(|at| at.elapsed() >= KNOWN_SAVE_GAP) {
            let live: Vec<PeerId> = view.live_peers();
            if live != saved {
                save_known_peers(&dd, &view);
                saved = live;
                saved_at = Some(Instant::now());
            }
        }
        let evict_after = cfg.forget_after;
        let gone = view.evict(evict_after);
        if gone > 0 {
            info!(gone, "forgot peers down for longer than {evict_after:?}");
        }
        // Not told to the swarm again: its watchers told it when their probes
        // failed, and every node that took that report checked it itself. A
        // report from each of N nodes made a failure cost N gossip messages.
        let mut down = false;
        for peer in view.newly_down() {
            info!(%peer, "peer is down: repairing its shards elsewhere");
            // Its connection may be stuck on a cut link: the down retry's
            // probe then dials afresh (`Client::try_disconnect`).
            client.try_disconnect(peer);
            down = true;
        }
        if down {
            repair.kick();
        }
    }
    if view.live_peers() != saved {
        save_known_peers(&dd, &view);
    }
}
