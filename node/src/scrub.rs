//! The background scrub: every held shard (healthy or quarantined) is re-read
//! and re-hashed, in id order from a cursor kept in the store, so that rot is
//! found even in shards nobody asks for. A bad or missing copy is marked
//! corrupted at once: `Has` then says this node lacks it, and the shard's
//! other holders send a good copy at their next scan.
//!
//! Pacing, after Garage's "tranquility": after reading for `t`, the scrub
//! sleeps at least `tranquility × t` (so it never takes more than
//! 1 / (1 + tranquility) of the disk's time), and at least as long as it
//! takes to spread a whole pass over `period` (default 14 days); a new node
//! begins a 14th of the period (at most an hour) after its first start, and
//! a restarted one when its next page was due. `start` runs a pass
//! now, paced by tranquility alone; `pause` stops it until `start`. Progress
//! survives restarts.

use serde::{Deserialize, Serialize};
use shardnet_protocol::ShardId;
use shardnet_store::{ScrubOutcome, ShardState, Store};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

/// Where the scrub keeps its progress in the store's `state` column family.
const STATE_KEY: &str = "scrub";
/// Shards read per page of the cursor.
const PAGE: usize = 64;
/// Progress is saved at least this often.
const SAVE_EVERY: Duration = Duration::from_secs(10);
/// Longest single sleep, so that `start`, `pause` and shutdown act promptly.
const MAX_NAP: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A pass spread over the period (the default).
    #[default]
    Paced,
    /// A pass now, as fast as tranquility allows (`scrub start`).
    Now,
    /// Stopped by the operator (`scrub pause`).
    Paused,
}

/// What is persisted: progress of the current pass and totals.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScrubState {
    pub mode: Mode,
    /// Last shard checked in the current pass (`None`: the pass starts over).
    pub cursor: Option<ShardId>,
    pub pass_started_at: u64,
    pub pass_shards: u64,
    pub pass_bytes: u64,
    /// Bytes held when the pass started (its length, for progress).
    pub pass_total_bytes: u64,
    pub last_full_pass_at: Option<u64>,
    pub last_full_pass_secs: Option<u64>,
    pub passes: u64,
    pub shards_checked: u64,
    pub bytes_checked: u64,
    pub corruptions_found: u64,
    /// Unix time the next page is due (paced mode), so that a restart picks
    /// the pacing up where it was instead of starting the wait over.
    #[serde(default)]
    pub next_due_at: u64,
}

/// `scrub status` as the API returns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScrubStatus {
    #[serde(flatten)]
    pub state: ScrubState,
    pub period_secs: u64,
    pub tranquility: u32,
    /// Share of the current pass done, by bytes.
    pub progress: f64,
    /// Read rate over the last pages, bytes per second.
    pub rate: f64,
    /// Outside the maintenance windows: no reads until this Unix time.
    #[serde(default)]
    pub waits_until: Option<u64>,
}

pub struct Scrub {
    store: Arc<Store>,
    /// Seconds (`config set scrub_period`).
    period: AtomicU64,
    tranquility: AtomicU32,
    live: Arc<crate::live::Live>,
    state: Mutex<ScrubState>,
    rate: Mutex<f64>,
    kick: Notify,
    /// Held while one shard is read and counted, so that `pause` returns only
    /// once no read is in flight.
    reading: Mutex<()>,
}

impl Scrub {
    pub fn new(
        store: Arc<Store>,
        (period, tranquility): (Duration, u32),
        live: Arc<crate::live::Live>,
    ) -> Arc<Self> {
        let state = store
            .get_state(STATE_KEY)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<ScrubState>(&b).ok())
            .unwrap_or_default();
        Arc::new(Scrub {
            store,
            period: AtomicU64::new(period.as_secs().max(1)),
            tranquility: AtomicU32::new(tranquility),
            live,
            state: Mutex::new(state),
            rate: Mutex::new(0.0),
            kick: Notify::new(),
            reading: Mutex::new(()),
        })
    }

    fn period(&self) -> Duration {
        Duration::from_secs(self.period.load(Ordering::Relaxed).max(1))
    }

    fn tranquility(&self) -> u32 {
        self.tranquility.load(Ordering::Relaxed)
    }

    /// A new pace, from the next page on.
    pub fn set_pace(&self, period: Duration, tranquility: u32) {
        self.period
            .store(period.as_secs().max(1), Ordering::Relaxed);
        self.tranquility.store(tranquility, Ordering::Relaxed);
        self.kick.notify_one();
    }

    fn st(&self) -> std::sync::MutexGuard<'_, ScrubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> ScrubStatus {
        let state = self.st().clone();
        let progress = if state.pass_total_bytes == 0 {
            0.0
        } else {
            (state.pass_bytes as f64 / state.pass_total_bytes as f64).min(1.0)
        };
        ScrubStatus {
            state,
            period_secs: self.period().as_secs(),
            tranquility: self.tranquility(),
            progress,
            rate: *self.rate.lock().unwrap_or_else(|p| p.into_inner()),
            waits_until: (!self.live.window_open()).then(|| self.live.next_window()),
        }
    }

    /// `scrub start`: a pass now (continuing the current one), then paced.
    pub fn start(&self) {
        self.st().mode = Mode::Now;
        self.save();
        self.kick.notify_one();
    }

    /// `scrub pause`: no reads until `start`. Blocks until a read in flight
    /// is done, so that nothing is read after it returns.
    pub fn pause(&self) {
        self.st().mode = Mode::Paused;
        self.save();
        self.kick.notify_one();
        drop(self.reading.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn save(&self) {
        let bytes = serde_json::to_vec(&*self.st()).unwrap_or_default();
        if let Err(e) = self.store.put_state(STATE_KEY, &bytes) {
            warn!("cannot save scrub progress: {e}");
        }
    }

    /// Bytes of the copies a pass reads.
    fn held_bytes(&self) -> u64 {
        let mut total = 0;
        let _ = self.store.for_each_meta(|_, m| {
            if m.state != ShardState::Corrupted {
                total += m.size as u64;
            }
            true
        });
        total
    }

    /// Sleeps `d` (in naps), returning early on `start`, `pause` or stop.
    async fn nap(&self, d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d.min(MAX_NAP)) => {}
            _ = self.kick.notified() => {}
            _ = stop.wait_for(|s| *s) => return false,
        }
        !*stop.borrow()
    }

    /// One page of the pass: reads, re-hashes, records. Returns whether the
    /// pass reached its end.
    fn page(&self) -> (bool, u64, u32, Duration) {
        let cursor = self.st().cursor;
        let list = match self.store.meta_page(cursor.as_ref(), PAGE) {
            Ok(l) => l,
            Err(e) => {
                warn!("scrub cannot list shards: {e}");
                return (false, 0, 0, Duration::ZERO);
            }
        };
        let t = Instant::now();
        let (mut bytes, mut bad) = (0u64, 0u32);
        for (id, m) in &list {
            let _reading = self.reading.lock().unwrap_or_else(|p| p.into_inner());
            if self.st().mode == Mode::Paused {
                // The rest of the page waits for `start`.
                return (false, bytes, bad, t.elapsed());
            }
            let (mut read, mut rotten) = (0, false);
            if m.state != ShardState::Corrupted {
                match self.store.scrub_shard(id) {
                    Ok(ScrubOutcome::Healthy(n)) => read = n,
                    Ok(ScrubOutcome::Corrupted(why)) => {
                        warn!(shard = %id, "scrub: corrupted copy marked ({why}); its holders will send a good one");
                        rotten = true;
                    }
                    Ok(ScrubOutcome::Skipped) => {}
                    Err(e) => warn!(shard = %id, "scrub cannot read: {e}"),
                }
            }
            bytes += read;
            bad += u32::from(rotten);
            let mut st = self.st();
            st.cursor = Some(*id);
            st.pass_shards += 1;
            st.pass_bytes += read;
            st.shards_checked += 1;
            st.bytes_checked += read;
            st.corruptions_found += u64::from(rotten);
        }
        let took = t.elapsed();
        (list.len() < PAGE, bytes, bad, took)
    }

    /// The scrub loop, until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut saved = Instant::now();
        // A new node has better things to do with its disk: a paced scrub
        // begins a 14th of its period (at most an hour) after its first
        // start. After a restart it resumes when its next page was due (kept
        // in the store), so frequent restarts neither starve it nor turn it
        // into a read loop.
        let now = crate::output::now_unix();
        let first = (self.period() / 14).min(Duration::from_secs(3600));
        let due = {
            let mut st = self.st();
            if st.next_due_at == 0 {
                st.next_due_at = now + first.as_secs();
            }
            // A clock that jumped back must not stall the scrub for long.
            st.next_due_at = st.next_due_at.min(now + self.period().as_secs());
            st.next_due_at
        };
        self.save();
        let until = Instant::now() + Duration::from_secs(due.saturating_sub(now));
        while Instant::now() < until && self.st().mode == Mode::Paced {
            if !self.nap(until - Instant::now(), &mut stop).await {
                return;
            }
        }
        loop {
            let mode = self.st().mode;
            if mode == Mode::Paused {
                if !self.nap(MAX_NAP, &mut stop).await {
                    break;
                }
                continue;
            }
            // Reads wait for a maintenance window (a started pass too).
            if !self.live.window_open() {
                if !self.nap(self.live.until_window(MAX_NAP), &mut stop).await {
                    break;
                }
                continue;
            }
            if self.st().cursor.is_none() && self.st().pass_shards == 0 {
                let total = {
                    let me = self.clone();
                    tokio::task::spawn_blocking(move || me.held_bytes())
                        .await
                        .unwrap_or(0)
                };
                if total == 0 {
                    // Nothing held: look again in a while.
                    if !self.nap(Duration::from_secs(60), &mut stop).await {
                        break;
                    }
                    continue;
                }
                let mut st = self.st();
                st.pass_started_at = crate::output::now_unix();
                st.pass_total_bytes = total;
            }
            let me = self.clone();
            let Ok((end, bytes, _bad, took)) = tokio::task::spawn_blocking(move || me.page()).await
            else {
                break;
            };
            if took > Duration::ZERO {
                *self.rate.lock().unwrap_or_else(|p| p.into_inner()) =
                    bytes as f64 / took.as_secs_f64();
            }
            if end {
                self.finish_pass();
                self.save();
                saved = Instant::now();
            } else if saved.elapsed() >= SAVE_EVERY {
                self.save();
                saved = Instant::now();
            }
            // Pacing (see the module doc).
            let mut wait = took * self.tranquility();
            if self.st().mode == Mode::Paced {
                let total = {
                    let st = self.st();
                    st.pass_total_bytes.max(st.pass_bytes).max(1)
                };
                let share = bytes as f64 / total as f64;
                let spread = self.period().mul_f64(share.min(1.0));
                wait = wait.max(spread.saturating_sub(took));
                if end {
                    // Nothing to read: the next pass starts when this one's
                    // period is over.
                    wait = wait.max(Duration::from_secs(60));
                }
            }
            self.st().next_due_at = crate::output::now_unix() + wait.as_secs();
            if wait >= SAVE_EVERY {
                self.save();
                saved = Instant::now();
            }
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if !self.nap(until - Instant::now(), &mut stop).await {
                    self.save();
                    return;
                }
                if self.st().mode != mode {
                    break;
                }
            }
            if *stop.borrow() {
                break;
            }
        }
        self.save();
    }

    fn finish_pass(&self) {
        let now = crate::output::now_unix();
        let mut st = self.st();
        info!(
            shards = st.pass_shards,
            bytes = st.pass_bytes,
            corrupted = st.corruptions_found,
            "scrub pass complete"
        );
        st.last_full_pass_secs = Some(now.saturating_sub(st.pass_started_at));
        st.last_full_pass_at = Some(now);
        st.passes += 1;
        st.cursor = None;
        st.pass_shards = 0;
        st.pass_bytes = 0;
        if st.mode == Mode::Now {
            st.mode = Mode::Paced;
        }
    }
}
