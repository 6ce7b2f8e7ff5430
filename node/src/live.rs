//! What the node's services read while they run: bandwidth limits (token
//! bookings shared by their users) and maintenance windows. Only this state;
//! how it is set (config.toml, `config set`, SIGHUP) is `settings`, so the
//! swarm, the scrub and repair read it without depending on that.

use serde::Serialize;
use shardnet_protocol::window::Windows;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// A byte rate shared by its users: each `take` books its bytes after the
/// bookings before it, so the total stays within the limit (no bursts saved
/// up while idle). A changed limit applies to bookings made after it.
#[derive(Debug)]
pub struct Rate {
    limit: AtomicU64,
    next_free: Mutex<Instant>,
}

impl Rate {
    pub fn new(bytes_per_sec: u64) -> Rate {
        Rate {
            limit: AtomicU64::new(bytes_per_sec),
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Bytes per second; 0 = unlimited.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    pub fn set(&self, bytes_per_sec: u64) {
        if self.limit.swap(bytes_per_sec, Ordering::Relaxed) != bytes_per_sec {
            // Bookings at the old rate do not hold up the new one.
            *self.next_free.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        }
    }

    /// How long the caller must wait before sending `bytes` (and books them).
    pub fn book(&self, bytes: u64) -> Duration {
        let rate = self.limit();
        if rate == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let start = (*next).max(now);
        *next = start + Duration::from_secs_f64(bytes as f64 / rate as f64);
        start - now
    }

    /// Waits until the limit allows `bytes` more.
    pub async fn take(&self, bytes: u64) {
        let wait = self.book(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Every bandwidth limit of the node (bytes per second, 0 = unlimited).
#[derive(Debug)]
pub struct Bandwidth {
    /// Shard bytes this node sends: stores it makes and fetches it answers.
    pub upload: Rate,
    /// Shard bytes of the fetches this node makes (restores, audits).
    pub download: Rate,
    /// Repair and handoff together (`bandwidth_limit`).
    pub transfers: Rate,
    /// Copies made because a shard has fewer copies than its tier wants.
    pub repair: Rate,
    /// Copies moved to a responsible peer that lacks one (rebalancing).
    pub handoff: Rate,
    /// Shards sent by this owner's backups.
    pub backup: Rate,
}

/// Limits as `config get` and `node status` show them.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Limits {
    pub upload: u64,
    pub download: u64,
    pub transfers: u64,
    pub repair: u64,
    pub handoff: u64,
    pub backup: u64,
}

impl Bandwidth {
    pub fn new(l: &Limits) -> Bandwidth {
        Bandwidth {
            upload: Rate::new(l.upload),
            download: Rate::new(l.download),
            transfers: Rate::new(l.transfers),
            repair: Rate::new(l.repair),
            handoff: Rate::new(l.handoff),
            backup: Rate::new(l.backup),
        }
    }

    pub fn set(&self, l: &Limits) {
        self.upload.set(l.upload);
        self.download.set(l.download);
        self.transfers.set(l.transfers);
        self.repair.set(l.repair);
        self.handoff.set(l.handoff);
        self.backup.set(l.backup);
    }

    pub fn limits(&self) -> Limits {
        Limits {
            upload: self.upload.limit(),
            download: self.download.limit(),
            transfers: self.transfers.limit(),
            repair: self.repair.limit(),
            handoff: self.handoff.limit(),
            backup: self.backup.limit(),
        }
    }
}

/// What the node's services read while they run.
#[derive(Debug)]
pub struct Live {
    pub bandwidth: std::sync::Arc<Bandwidth>,
    windows: RwLock<Windows>,
}

impl Live {
    pub fn new(limits: &Limits, windows: Windows) -> Live {
        Live {
            bandwidth: std::sync::Arc::new(Bandwidth::new(limits)),
            windows: RwLock::new(windows),
        }
    }

    pub fn set_windows(&self, w: Windows) {
        *self.windows.write().unwrap_or_else(|p| p.into_inner()) = w;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Windows> {
        self.windows.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Work that can wait (handoff, scrub) may run now.
    pub fn window_open(&self) -> bool {
        self.read().is_open(crate::output::now_unix())
    }

    /// When the next maintenance window opens (now, when one is open).
    pub fn next_window(&self) -> u64 {
        self.read().next_open(crate::output::now_unix())
    }

    /// A nap for a waiting service: until the window opens, at most `cap`.
    pub fn until_window(&self, cap: Duration) -> Duration {
        let now = crate::output::now_unix();
        Duration::from_secs(self.read().next_open(now).saturating_sub(now)).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_books_bytes_one_after_another() {
        let r = Rate::new(1_000_000);
        assert_eq!(r.book(500_000), Duration::ZERO);
        let w = r.book(500_000);
        assert!(
            w > Duration::from_millis(450) && w <= Duration::from_millis(500),
            "{w:?}"
        );
        let w = r.book(1);
        assert!(w > Duration::from_millis(950), "{w:?}");
        // A higher limit is not held up by bookings at the old one.
        r.set(10_000_000);
        assert_eq!(r.book(1_000_000), Duration::ZERO);
        let w = r.book(1);
        assert!(w <= Duration::from_millis(100), "{w:?}");
        r.set(0);
        assert_eq!(r.book(u64::MAX), Duration::ZERO);
    }
}
