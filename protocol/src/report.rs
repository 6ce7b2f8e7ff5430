//! Daily and weekly reports (`report daily|weekly`): what a node did over a
//! period, from the metric samples it keeps (every few minutes) and its
//! audit trail. Counters in a sample run from the process's start, so a
//! restart inside the period is seen by its new `started_at` and counted
//! from zero, never as a negative step.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Peers named per sample as joined or left, at most.
pub const MAX_NAMED_PEERS: usize = 64;

/// One metric sample, as the node stores it (fields added later read as 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sample {
    pub at: u64,
    /// Unix time the node process started (counters below run from it).
    pub started_at: u64,
    pub used: u64,
    pub capacity: u64,
    pub shards: u64,
    pub corrupted: u64,
    pub quarantined: u64,
    pub live_peers: u64,
    pub transfers_done: u64,
    pub bytes_moved: u64,
    pub transfer_failures: u64,
    pub proofs_passed: u64,
    pub proofs_failed: u64,
    pub backup_bytes: u64,
    pub restore_bytes: u64,
    /// Peers live now and not at the previous sample, and the reverse.
    pub joined: Vec<String>,
    pub left: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// "daily" or "weekly".
    pub period: String,
    pub from: u64,
    pub to: u64,
    pub samples: u64,
    /// Share of the period the node was up (by sample gaps).
    pub uptime: f64,
    pub restarts: u64,
    pub backups_made: u64,
    pub backups_deleted: u64,
    pub backup_bytes: u64,
    pub restore_bytes: u64,
    /// Bytes held at the first and the last sample.
    pub stored_start: u64,
    pub stored_end: u64,
    pub shards_end: u64,
    pub capacity: u64,
    pub repairs: u64,
    pub repair_bytes: u64,
    pub repair_failures: u64,
    pub quarantined: u64,
    pub purged: u64,
    pub rolled_back: u64,
    pub corruption_found: u64,
    pub corrupted_repaired: u64,
    pub proofs_passed: u64,
    pub proofs_failed: u64,
    pub peers_joined: u64,
    pub peers_left: u64,
    pub live_peers_min: u64,
    pub live_peers_max: u64,
    /// Audit events in the period by action name.
    pub events: BTreeMap<String, u64>,
    /// What an operator should look at, worst first.
    pub notes: Vec<String>,
}

/// The step of a counter between two samples: from zero after a restart.
fn step(prev: &Sample, cur: &Sample, f: impl Fn(&Sample) -> u64) -> u64 {
    if cur.started_at != prev.started_at {
        f(cur)
    } else {
        f(cur).saturating_sub(f(prev))
    }
}

/// The report for `[from, to)` from the samples taken in it (any order)
/// and the audit events in it per action name; `interval` is the sampling
/// period.
pub fn build(
    period: &str,
    (from, to): (u64, u64),
    samples: &[Sample],
    events: BTreeMap<String, u64>,
    interval: u64,
) -> Report {
    let mut s: Vec<&Sample> = samples
        .iter()
        .filter(|x| x.at >= from && x.at < to)
        .collect();
    s.sort_by_key(|x| x.at);
    let mut r = Report {
        period: period.into(),
        from,
        to,
        samples: s.len() as u64,
        events,
        ..Default::default()
    };
    let count = |name: &str| r.events.get(name).copied().unwrap_or(0);
    r.backups_made = count("backup-added");
    r.backups_deleted = count("backup-deleted");
    r.quarantined = count("quarantined");
    r.purged = count("purged");
    r.rolled_back = count("unquarantined");
    r.corruption_found = count("scrub-found") + count("marked-corrupted");
    r.corrupted_repaired = count("repaired");
    if let (Some(first), Some(last)) = (s.first(), s.last()) {
        r.stored_start = first.used;
        r.stored_end = last.used;
        r.shards_end = last.shards;
        r.capacity = last.capacity;
        r.live_peers_min = s.iter().map(|x| x.live_peers).min().unwrap_or(0);
        r.live_peers_max = s.iter().map(|x| x.live_peers).max().unwrap_or(0);
        // The first sample's counters include what came before the period,
        // unless its process started inside it.
        let mut joined: BTreeSet<&str> = BTreeSet::new();
        let mut left: BTreeSet<&str> = BTreeSet::new();
        if first.started_at >= from {
            let zero = Sample {
                started_at: u64::MAX,
                ..Default::default()
            };
            r.add_steps(&zero, first);
        }
        for w in s.windows(2) {
            r.add_steps(w[0], w[1]);
            r.restarts += u64::from(w[1].started_at != w[0].started_at);
        }
        for x in &s {
            joined.extend(x.joined.iter().map(String::as_str));
            left.extend(x.left.iter().map(String::as_str));
        }
        r.peers_joined = joined.len() as u64;
        r.peers_left = left.len() as u64;
        // Up while consecutive samples are at most two intervals apart.
        let mut up = 0;
        for w in s.windows(2) {
            let gap = w[1].at - w[0].at;
            if gap <= 2 * interval.max(1) {
                up += gap;
            }
        }
        up += interval.min(to.saturating_sub(last.at));
        r.uptime = (up as f64 / (to - from).max(1) as f64).min(1.0);
    }
    r.notes = notes(&r);
    r
}

impl Report {
    fn add_steps(&mut self, prev: &Sample, cur: &Sample) {
        self.repairs += step(prev, cur, |x| x.transfers_done);
        self.repair_bytes += step(prev, cur, |x| x.bytes_moved);
        self.repair_failures += step(prev, cur, |x| x.transfer_failures);
        self.proofs_passed += step(prev, cur, |x| x.proofs_passed);
        self.proofs_failed += step(prev, cur, |x| x.proofs_failed);
        self.backup_bytes += step(prev, cur, |x| x.backup_bytes);
        self.restore_bytes += step(prev, cur, |x| x.restore_bytes);
    }
}

fn notes(r: &Report) -> Vec<String> {
    let mut n = Vec::new();
    if r.samples == 0 {
        n.push("no samples in the period: the node was not running".into());
        return n;
    }
    if r.corruption_found > 0 {
        n.push(format!(
            "{} corrupted copies found (check the disk: `shardnet scrub status`, SMART)",
            r.corruption_found
        ));
    }
    let proofs = r.proofs_passed + r.proofs_failed;
    if proofs > 0 && r.proofs_failed * 200 > proofs {
        n.push(format!(
            "{} of {proofs} possession proofs failed (over 0.5%): `shardnet peers reputation`",
            r.proofs_failed
        ));
    }
    if r.uptime < 0.99 {
        n.push(format!("up {:.1}% of the period", r.uptime * 100.0));
    }
    if r.capacity > 0 && r.stored_end * 100 > r.capacity * 85 {
        n.push(format!(
            "storage {:.0}% full",
            r.stored_end as f64 * 100.0 / r.capacity as f64
        ));
    }
    if r.repair_failures > 0 {
        n.push(format!("{} transfers failed (retried)", r.repair_failures));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(at: u64, started: u64, done: u64) -> Sample {
        Sample {
            at,
            started_at: started,
            transfers_done: done,
            used: at,
            capacity: 1 << 40,
            live_peers: 3,
            ..Default::default()
        }
    }

    #[test]
    fn a_restart_counts_from_zero() {
        let s = vec![
            sample(100, 0, 10),
            sample(200, 0, 15),
            sample(300, 250, 4),
            sample(400, 250, 6),
        ];
        let r = build("daily", (100, 500), &s, Default::default(), 100);
        assert_eq!(r.repairs, 5 + 4 + 2);
        assert_eq!(r.restarts, 1);
        assert_eq!((r.stored_start, r.stored_end), (100, 400));
        assert!((r.uptime - 1.0).abs() < 1e-9, "{}", r.uptime);
        // Started inside the period: its first counters count.
        let r = build("daily", (0, 500), &s[2..], Default::default(), 100);
        assert_eq!(r.repairs, 6);
    }

    #[test]
    fn events_and_gaps_make_notes() {
        let s = vec![sample(0, 0, 0), sample(100, 0, 0), sample(5000, 0, 0)];
        let ev: BTreeMap<String, u64> = [
            ("backup-added".to_string(), 2),
            ("scrub-found".to_string(), 1),
        ]
        .into_iter()
        .collect();
        let r = build("daily", (0, 10_000), &s, ev, 100);
        assert_eq!((r.backups_made, r.corruption_found), (2, 1));
        assert!(r.uptime < 0.1, "{}", r.uptime);
        assert!(
            r.notes.iter().any(|n| n.contains("corrupted")),
            "{:?}",
            r.notes
        );
        assert!(
            r.notes.iter().any(|n| n.starts_with("up ")),
            "{:?}",
            r.notes
        );
        let empty = build("weekly", (0, 10), &[], Default::default(), 100);
        assert_eq!(empty.samples, 0);
        assert!(empty.notes[0].contains("not running"));
    }

    /// Samples stay far under the store's 16 KiB cap even when the most
    /// peers are named (the sizes are printed for the notes).
    #[test]
    fn a_sample_stays_small() {
        let peer = "12D3KooWHuPvcpPNLBccqDPrd3orW2fnZcMDa7kSzY2f1zdDsozR".to_string();
        let mut s = Sample {
            at: u64::from(u32::MAX),
            started_at: u64::from(u32::MAX),
            used: 1 << 40,
            capacity: 1 << 42,
            shards: 1 << 30,
            transfers_done: 1 << 30,
            bytes_moved: 1 << 45,
            proofs_passed: 1 << 30,
            backup_bytes: 1 << 45,
            restore_bytes: 1 << 45,
            live_peers: 1000,
            ..Default::default()
        };
        let bare = serde_json::to_vec(&s).unwrap().len();
        s.joined = vec![peer.clone(); MAX_NAMED_PEERS];
        s.left = vec![peer; MAX_NAMED_PEERS];
        let full = serde_json::to_vec(&s).unwrap().len();
        eprintln!("sample: {bare} bytes, {full} with {MAX_NAMED_PEERS} peers joined and left");
        assert!(bare < 512 && full < 16 << 10, "{bare} {full}");
    }

    proptest! {
        /// Counter totals never exceed the sum of the samples' values, and
        /// a report never panics on any samples.
        #[test]
        fn totals_are_bounded(v in prop::collection::vec((0u64..1000, 0u64..3, 0u64..100), 0..30)) {
            let s: Vec<Sample> = v.iter().map(|(at, st, d)| sample(*at, *st, *d)).collect();
            let r = build("daily", (0, 1000), &s, Default::default(), 10);
            prop_assert!(r.repairs <= s.iter().map(|x| x.transfers_done).sum::<u64>());
            prop_assert!((0.0..=1.0).contains(&r.uptime));
            prop_assert_eq!(r.samples, s.len() as u64);
        }
    }
}
