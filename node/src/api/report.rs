//! Metric samples and `report daily|weekly`: every `SAMPLE_EVERY` the node
//! keeps one sample of what `/metrics` shows (store, repair, audits,
//! throughput, live peers and who joined or left) in RocksDB; a report
//! reads the samples and the audit trail of the period
//! (`protocol::report` does the counting).

use crate::api::html::esc;
use crate::api::state::Shared;
use shardnet_protocol::report::{build, Report, Sample, MAX_NAMED_PEERS};
use shardnet_store::Store;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::warn;

/// How often a sample is taken (`SHARDNET_SAMPLE_SECS` overrides, for tests).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(300);
/// Samples read for one report, at most (a week at 5 minutes is 2,016).
const MAX_SAMPLES: usize = 20_000;

pub fn sample_every() -> Duration {
    std::env::var("SHARDNET_SAMPLE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(SAMPLE_EVERY, |s| Duration::from_secs(s.max(1)))
}

/// Takes a sample now and every `sample_every()` until `stop`; trims samples
/// older than `retention` once a day.
pub async fn sampler(s: Arc<Shared>, retention: Duration, mut stop: watch::Receiver<bool>) {
    let every = sample_every();
    let mut prev: Option<BTreeSet<String>> = None;
    let mut trimmed_at = 0;
    loop {
        let (snap, _) = crate::api::observe::observe(&s).await;
        let live: BTreeSet<String> = s
            .net
            .view
            .live_peers()
            .iter()
            .map(|p| p.to_string())
            .collect();
        let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
            a.difference(b).take(MAX_NAMED_PEERS).cloned().collect()
        };
        let (joined, left) = match &prev {
            Some(p) => (diff(&live, p), diff(p, &live)),
            None => (Vec::new(), Vec::new()),
        };
        let count = |state: &str| {
            snap.stored
                .iter()
                .filter(|(st, _, _, _)| st == state)
                .map(|(_, _, n, _)| n)
                .sum::<u64>()
        };
        let now = crate::output::now_unix();
        let sample = Sample {
            at: now,
            started_at: s.started_at,
            used: snap.used,
            capacity: snap.capacity,
            shards: snap.stored.iter().map(|(_, _, n, _)| n).sum(),
            corrupted: count("corrupted"),
            quarantined: count("quarantined"),
            live_peers: live.len() as u64,
            transfers_done: snap.transfers_done,
            bytes_moved: snap.bytes_moved,
            transfer_failures: snap.transfers_failed,
            proofs_passed: snap.audits_passed,
            proofs_failed: snap.audits_failed,
            backup_bytes: crate::metrics::BACKUP_BYTES.load(std::sync::atomic::Ordering::Relaxed),
            restore_bytes: crate::metrics::RESTORE_BYTES.load(std::sync::atomic::Ordering::Relaxed),
            joined,
            left,
        };
        prev = Some(live);
        let store = s.store.clone();
        let trim = now >= trimmed_at + 86_400;
        if trim {
            trimmed_at = now;
        }
        let keep_from = now.saturating_sub(retention.as_secs());
        let saved = tokio::task::spawn_blocking(move || {
            let bytes = serde_json::to_vec(&sample).map_err(|e| e.to_string())?;
            store.put_sample(now, &bytes).map_err(|e| e.to_string())?;
            if trim {
                store.trim_samples(keep_from).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        })
        .await;
        if let Ok(Err(e)) | Err(e) = saved.map_err(|e| e.to_string()) {
            warn!("could not keep a metric sample: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The report of the `days` ending now.
pub fn report(
    store: &Store,
    period: &str,
    days: u64,
) -> Result<Report, shardnet_store::StoreError> {
    let to = crate::output::now_unix() + 1;
    let from = to.saturating_sub(days * 86_400);
    let samples: Vec<Sample> = store
        .samples(from, to, MAX_SAMPLES)?
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    let events = store.audit_counts(from, to)?;
    Ok(build(
        period,
        (from, to),
        &samples,
        events,
        sample_every().as_secs(),
    ))
}

/// A self-contained HTML page of the report (for mail or a browser).
pub fn html(r: &Report) -> String {
    use crate::output::{size, time};
    let rows = [
        ("period", format!("{} to {}", time(r.from), time(r.to))),
        (
            "uptime",
            format!("{:.1}% ({} restarts)", r.uptime * 100.0, r.restarts),
        ),
        ("backups made", r.backups_made.to_string()),
        ("backups deleted", r.backups_deleted.to_string()),
        ("backed up", size(r.backup_bytes)),
        ("restored", size(r.restore_bytes)),
        (
            "stored",
            format!(
                "{} → {} of {}",
                size(r.stored_start),
                size(r.stored_end),
                size(r.capacity)
            ),
        ),
        (
            "repairs and handoffs",
            format!(
                "{} copies, {}, {} failed",
                r.repairs,
                size(r.repair_bytes),
                r.repair_failures
            ),
        ),
        (
            "pruned",
            format!(
                "{} quarantined, {} purged, {} rolled back",
                r.quarantined, r.purged, r.rolled_back
            ),
        ),
        (
            "corruption",
            format!(
                "{} found, {} repaired",
                r.corruption_found, r.corrupted_repaired
            ),
        ),
        (
            "possession proofs",
            format!("{} passed, {} failed", r.proofs_passed, r.proofs_failed),
        ),
        (
            "peers",
            format!(
                "{} joined, {} left, {}–{} live",
                r.peers_joined, r.peers_left, r.live_peers_min, r.live_peers_max
            ),
        ),
    ];
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>shardnet {} report</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}\
         th{{color:#555;font-weight:normal}}.note{{color:#a40}}</style></head><body><h1>shardnet {} report</h1><table>",
        esc(&r.period),
        esc(&r.period)
    );
    for (k, v) in rows {
        out += &format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    out += "</table><h2>Notes</h2><ul>";
    for n in &r.notes {
        out += &format!("<li class=\"note\">{}</li>", esc(n));
    }
    if r.notes.is_empty() {
        out += "<li>nothing to look at</li>";
    }
    out += "</ul><h2>Audit events</h2><table>";
    for (k, v) in &r.events {
        out += &format!("<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    out + "</table></body></html>\n"
}
