//! Model mode: a discrete-event simulation of a swarm over months.
//!
//! It keeps no bytes, only who holds which shard, and decides with the real
//! rules: responsible sets from `protocol::placement` (through
//! `PlacementIndex`, which gives the same sets fast), and every repair, handoff
//! and redundant-copy removal from `protocol::repair::decide`. What is
//! modelled rather than run:
//! - transfer time: a copy takes `shard size / bandwidth` and waits for the
//!   sender's uplink and the receiver's downlink (each one transfer at a time);
//! - failure detection: a silent node is suspect (kept in responsible sets,
//!   sent nothing) until `down_after`, as in the node;
//! - a scan happens at once when something changes (real nodes scan on
//!   membership changes and every `scan_interval`);
//! - a join re-checks the shards whose key shares a prefix with the new node
//!   (where placement puts it); shards it gains only through zone spreading
//!   are picked up at their next change;
//! - corruption removes the copy at once and repair starts when the next
//!   scrub finds it (uniform within `scrub_interval`).
//!
//! Deterministic: all randomness comes from one ChaCha8 RNG seeded from the
//! scenario (or `--seed`), and all collections iterate in a fixed order.

mod engine;
mod state;

pub use engine::{run, run_with_progress, Layout, LayoutBackup, LayoutNode};
