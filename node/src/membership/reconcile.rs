//! The view's side of reconciliation by digest (`protocol::digest`): which
//! entries it digests and summarises, and the records it hands out by key
//! prefix. Both use the records a joiner's pull would get, those of peers
//! not down, so two nodes that agree on who is there agree on the digest.

use super::{PeerState, SignedHeartbeat, View};
use shardnet_protocol::digest::{self, Entry};
use std::collections::HashSet;
use std::time::Instant;

impl View {
    /// Each peer not down whose signed record this node holds (itself
    /// included): its placement key and the record's signing time.
    pub fn digest_entries(&self) -> Vec<Entry> {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|e| self.state_of(e, now) != PeerState::Down)
            .filter_map(|e| e.record.as_ref().map(|r| (e.key, r.issued_at)))
            .collect()
    }

    /// The records of the peers not down whose key starts with one of
    /// `prefixes`, at most about `max_bytes` in all.
    pub fn records_by_prefix(&self, prefixes: &[u64], max_bytes: usize) -> Vec<SignedHeartbeat> {
        let want: HashSet<u64> = prefixes.iter().copied().collect();
        let now = Instant::now();
        let mut bytes = 0;
        let mut out = Vec::new();
        for e in self.lock().values() {
            if bytes >= max_bytes {
                break;
            }
            if !want.contains(&digest::prefix(&e.key)) || self.state_of(e, now) == PeerState::Down {
                continue;
            }
            if let Some(r) = e.record.as_ref() {
                bytes += r.approx_len();
                out.push(r.clone());
            }
        }
        out
    }
}
