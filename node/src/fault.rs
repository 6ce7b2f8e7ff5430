//! Crash points for the crash-safety trials (`tests/e2e_crash.rs`): with
//! `SHARDNET_CRASH_AT=NAME:N` in the environment, the process kills itself
//! with SIGKILL the N-th time it passes point NAME, as `kill -9` would at
//! that moment: no destructor, flush or buffered write runs. Without the
//! variable a point costs one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The variable that arms a crash point.
pub const CRASH_AT: &str = "SHARDNET_CRASH_AT";

static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
static PASSED: AtomicU64 = AtomicU64::new(0);

fn armed() -> &'static Option<(String, u64)> {
    ARMED.get_or_init(|| {
        let v = std::env::var(CRASH_AT).ok()?;
        let (name, n) = v.rsplit_once(':')?;
        Some((name.to_string(), n.parse().ok()?))
    })
}

/// Passes crash point `name`.
pub fn point(name: &str) {
    let Some((at, n)) = armed() else {
        return;
    };
    if at == name && PASSED.fetch_add(1, Ordering::Relaxed) + 1 == *n {
        // SAFETY: kill(2) on our own pid with a constant signal; SIGKILL
        // cannot be caught, so nothing runs after it.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
