//! What the daemon keeps in its data dir between runs, beside the store: the
//! storage radius of a shedding node, the addresses of peers it knew (to
//! rejoin without its bootstrap peers), and the API tokens. Each file is
//! replaced whole (written aside, then renamed), so a crash leaves the old
//! version or the new one.

use crate::datadir::DataDir;
use crate::membership::View;
use anyhow::Context;
use rand::RngCore;
use shardnet_protocol::placement::{self, Key};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Where a shedding node keeps its storage radius, so that a restart does not
/// widen it again and pull the shed shards back.
const SHED_FILE: &str = "shed.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Shed {
    /// The capacity the radius was computed for: a new capacity starts over.
    capacity: u64,
    radius: String,
    /// Placement rules the radius was computed under (absent: the first).
    #[serde(default)]
    placement: u32,
}

/// When this node last announced its leave (unix seconds): the records of
/// its next run must be dated later. Peers take a leave as lasting until a
/// record signed after the last one they hold, and both are dated in whole
/// seconds, so a node restarted within the second of its last published
/// record would stay "left" at its peers until its next refresh: no new
/// shards, its copies counted for nothing and re-made elsewhere.
const LEFT_FILE: &str = "left-at.json";

/// Farthest ahead of this clock a record may be dated to follow the last
/// leave (receivers accept `SKEW_SECS` ahead; a clock set back further
/// than this just dates records by itself again).
const MAX_LEFT_LEAD: u64 = 5;

pub(super) fn save_left_at(dd: &DataDir, at: u64) {
    replace_json(&dd.root().join(LEFT_FILE), &at);
}

/// The earliest time this run's records may be dated at, given the clock
/// now: after the last leave, if that is at most [`MAX_LEFT_LEAD`] ahead.
pub(super) fn record_floor(dd: &DataDir, now: u64) -> u64 {
    let left = std::fs::read(dd.root().join(LEFT_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<u64>(&b).ok());
    match left {
        Some(t) if t.saturating_add(1) <= now.saturating_add(MAX_LEFT_LEAD) => t.saturating_add(1),
        _ => 0,
    }
}

pub(super) fn load_radius(dd: &DataDir, capacity: u64) -> Option<Key> {
    let b = std::fs::read(dd.root().join(SHED_FILE)).ok()?;
    let shed: Shed = serde_json::from_slice(&b).ok()?;
    let k = hex::decode(&shed.radius).ok()?;
    (shed.capacity == capacity && shed.placement == placement::RULES)
        .then_some(Key::try_from(k.as_slice()).ok()?)
}

pub(super) fn save_radius(dd: &DataDir, capacity: u64, radius: Option<Key>) {
    let path = dd.root().join(SHED_FILE);
    let Some(r) = radius else {
        let _ = std::fs::remove_file(path);
        return;
    };
    let shed = Shed {
        capacity,
        radius: hex::encode(r),
        placement: placement::RULES,
    };
    replace_json(&path, &shed);
}

/// Where a node remembers its peers' addresses between runs, so that it
/// rejoins even when its bootstrap peers are gone (or it was the bootstrap).
const KNOWN_PEERS_FILE: &str = "known_peers.json";
/// Most remembered addresses.
const MAX_KNOWN: usize = 64;

pub(super) fn load_known_peers(dd: &DataDir) -> Vec<libp2p::Multiaddr> {
    let Ok(b) = std::fs::read(dd.root().join(KNOWN_PEERS_FILE)) else {
        return Vec::new();
    };
    let list: Vec<String> = serde_json::from_slice(&b).unwrap_or_default();
    list.iter()
        .take(MAX_KNOWN)
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Addresses remembered per peer: one peer advertising many addresses must
/// not fill every slot (a restarted node would dial only that peer).
pub(super) const KNOWN_PER_PEER: usize = 2;

pub(super) fn save_known_peers(dd: &DataDir, view: &View) {
    use rand::seq::SliceRandom;
    let mut peers: Vec<_> = view
        .list()
        .into_iter()
        .filter(|p| p.live && !p.local && !p.isolated)
        .collect();
    // A random choice of peers, so no peer id sorts itself into every slot.
    peers.shuffle(&mut rand::thread_rng());
    let mut list: Vec<String> = Vec::new();
    for p in peers.iter().take(MAX_KNOWN / KNOWN_PER_PEER) {
        for a in p.heartbeat.addrs.iter().take(KNOWN_PER_PEER) {
            list.push(format!("{a}/p2p/{}", p.peer_id));
        }
    }
    list.truncate(MAX_KNOWN);
    if list.is_empty() {
        return;
    }
    replace_json(&dd.root().join(KNOWN_PEERS_FILE), &list);
}

/// Best-effort state file: written aside, then renamed over the old one, so a
/// crash leaves either version, never half of one.
fn replace_json(path: &std::path::Path, value: &impl serde::Serialize) {
    let tmp = path.with_extension("tmp");
    if let Ok(json) = serde_json::to_vec(value) {
        if std::fs::write(&tmp, json).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

/// A new random API token, written to `path` (0600).
pub(super) fn fresh_token(path: &std::path::Path) -> anyhow::Result<String> {
    let mut t = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut t);
    let token = hex::encode(t);
    write_private(path, token.as_bytes())
        .with_context(|| format!("writing the API token {}", path.display()))?;
    Ok(token)
}

pub(super) fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_after_a_leave_are_dated_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().to_path_buf());
        assert_eq!(record_floor(&dd, 1_000), 0, "no leave yet");
        save_left_at(&dd, 1_000);
        // Restarted within the same second: dated one second on.
        assert_eq!(record_floor(&dd, 1_000), 1_001);
        assert_eq!(1_005u64.max(record_floor(&dd, 1_005)), 1_005);
        // A leave dated far ahead (a clock set back): the clock decides.
        save_left_at(&dd, 2_000);
        assert_eq!(record_floor(&dd, 1_000), 0);
    }
}
