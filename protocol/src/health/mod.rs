//! The node's health verdict (`node health`, `GET /health`): the checks of
//! the maintenance runbook, each ok, warn or critical with its reason, a
//! score from 0 to 1, and an exit code (0, 1, 2) for scripts and systemd.
//!
//! The thresholds are the runbooks' (the same as contrib/prometheus's
//! alert rules): disk 85% warn, 95% critical; repair queue above 100; scrub
//! pass older than twice its period; corruption above 0.5% of what the scrub
//! read; failed proofs above 5% (20% critical) of this node's audits;
//! RocksDB's pending compaction above 2 GiB (16 GiB critical); live peers on
//! another major.minor version. Pure, so that the daemon, the metrics'
//! `shardnet_health_score` and the tests decide alike.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub level: Level,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub level: Level,
    /// 1 when every check is ok; each warning costs 0.1 and each critical
    /// 0.3 (at least 0.5 below 1 once anything is critical).
    pub score: f64,
    pub checks: Vec<Check>,
}

impl Health {
    pub fn exit_code(&self) -> i32 {
        match self.level {
            Level::Ok => 0,
            Level::Warn => 1,
            Level::Critical => 2,
        }
    }
}

/// What the checks read.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub used: u64,
    pub capacity: u64,
    pub disk_used: u64,
    pub disk_total: u64,
    pub peers_known: u64,
    pub peers_live: u64,
    pub repair_queue: u64,
    pub below_target: u64,
    pub scrub_period_secs: u64,
    pub scrub_last_pass_at: Option<u64>,
    pub started_at: u64,
    pub scrub_bytes_checked: u64,
    pub scrub_corruptions: u64,
    pub scrub_shards_checked: u64,
    pub audits_passed: u64,
    pub audits_failed: u64,
    pub compaction_debt: u64,
    pub alerts: Vec<String>,
    /// Versions announced by live peers, and this node's.
    pub peer_versions: Vec<String>,
    pub version: String,
    pub now: u64,
}

/// Live peers below which a node cannot place a silver backup's 3 copies.
pub const MIN_LIVE_PEERS: u64 = 2;
const GIB: u64 = 1 << 30;

fn check(name: &str, level: Level, reason: String) -> Check {
    Check {
        name: name.into(),
        level,
        reason,
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The verdict on `i`.
pub fn assess(i: &Inputs) -> Health {
    let mut checks = Vec::new();

    let store = ratio(i.used, i.capacity);
    let disk = ratio(i.disk_used, i.disk_total);
    let fill = store.max(disk);
    let which = if store >= disk {
        "store of its capacity"
    } else {
        "disk"
    };
    let level = if fill >= 0.95 {
        Level::Critical
    } else if fill >= 0.85 {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "disk",
        level,
        format!(
            "{:.1}% used ({which}); warn at 85%, critical at 95%",
            fill * 100.0
        ),
    ));

    let level = if i.peers_known > 0 && i.peers_live == 0 {
        Level::Critical
    } else if i.peers_live < MIN_LIVE_PEERS {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "connectivity",
        level,
        format!(
            "{} of {} known peers live (at least {MIN_LIVE_PEERS} wanted to place copies elsewhere)",
            i.peers_live, i.peers_known
        ),
    ));

    let level = if i.repair_queue > 1000 {
        Level::Critical
    } else if i.repair_queue > 100 || i.below_target > 0 {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "repair",
        level,
        format!(
            "{} transfers queued, {} shards below their target copies",
            i.repair_queue, i.below_target
        ),
    ));

    let since = i.scrub_last_pass_at.unwrap_or(i.started_at);
    let age = i.now.saturating_sub(since);
    let level = if i.scrub_period_secs > 0 && age > 2 * i.scrub_period_secs {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "scrub",
        level,
        match i.scrub_last_pass_at {
            Some(_) => format!(
                "last full pass {} h ago (period {} h)",
                age / 3600,
                i.scrub_period_secs / 3600
            ),
            None => format!(
                "no full pass yet ({} h since start, period {} h)",
                age / 3600,
                i.scrub_period_secs / 3600
            ),
        },
    ));

    let corrupt = ratio(i.scrub_corruptions, i.scrub_shards_checked);
    let level = if corrupt > 0.005 {
        Level::Critical
    } else if i.scrub_corruptions > 0 {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "integrity",
        level,
        format!(
            "{} corrupted of {} copies the scrub read ({:.2}%; critical above 0.5%)",
            i.scrub_corruptions,
            i.scrub_shards_checked,
            corrupt * 100.0
        ),
    ));

    let failed = ratio(i.audits_failed, i.audits_passed + i.audits_failed);
    let level = if failed > 0.20 {
        Level::Critical
    } else if failed > 0.05 {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "audits",
        level,
        format!(
            "{} of {} possession proofs failed ({:.1}%)",
            i.audits_failed,
            i.audits_passed + i.audits_failed,
            failed * 100.0
        ),
    ));

    let level = if i.compaction_debt > 16 * GIB {
        Level::Critical
    } else if i.compaction_debt > 2 * GIB {
        Level::Warn
    } else {
        Level::Ok
    };
    checks.push(check(
        "compaction",
        level,
        format!(
            "{:.1} MiB of pending compaction in the store",
            i.compaction_debt as f64 / (1 << 20) as f64
        ),
    ));

    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    let other: Vec<&String> = i
        .peer_versions
        .iter()
        .filter(|v| minor(v) != minor(&i.version))
        .collect();
    checks.push(check(
        "versions",
        if other.is_empty() { Level::Ok } else { Level::Warn },
        if other.is_empty() {
            format!("every live peer runs {}", minor(&i.version))
        } else {
            format!(
                "{} of {} live peers run another version than {} (e.g. {}): upgrade the swarm together",
                other.len(),
                i.peer_versions.len(),
                i.version,
                other[0]
            )
        },
    ));

    for a in &i.alerts {
        checks.push(check("alert", Level::Warn, a.clone()));
    }

    let warns = checks.iter().filter(|c| c.level == Level::Warn).count() as f64;
    let crits = checks.iter().filter(|c| c.level == Level::Critical).count() as f64;
    let mut score = (1.0 - 0.1 * warns - 0.3 * crits).max(0.0);
    if crits > 0.0 {
        score = score.min(0.5);
    }
    let level = checks.iter().map(|c| c.level).max().unwrap_or(Level::Ok);
    Health {
        level,
        score,
        checks,
    }
}

#[cfg(test)]
mod tests;
