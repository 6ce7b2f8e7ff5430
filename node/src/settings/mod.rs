//! Settings an operator changes on a running node: bandwidth limits (per
//! direction, and for repair, handoff and backups separately), repair
//! parallelism and intervals, the scrub's pace and maintenance windows.
//!
//! `config.toml` stays the one source of truth: `config set` edits it (keeping
//! its comments) and then reloads it, exactly as SIGHUP does, so that what
//! runs is always what the file says, and a restart changes nothing. A flag
//! given to `node run` wins over the file until the next restart, so the
//! keys it pins cannot be set. A file that fails its checks changes nothing.

mod keys;
mod reload;

pub use keys::{Setting, Source};
pub use reload::{edit_file, offline_get, on_sighup, Reload, Settings};

pub use crate::live::{Bandwidth, Limits, Live, Rate};
