//! The append-only audit log: every change of a shard's state or a catalogue,
//! and every operator action, is written in the same atomic batch as the
//! change itself, under a monotonically increasing sequence number.
//!
//! Events are hash-chained: beside each event, the `audit_chain` column
//! family keeps the previous event's link hash and this one's, BLAKE3 over
//! the previous hash, the sequence number and the event's bytes. `audit
//! verify` recomputes every link: an edited event breaks its link, a removed
//! one leaves a gap (as does a batch that failed to write, which is rare). An
//! operator who records the head hash it prints can later tell that nothing
//! before it was rewritten, even by someone who recomputed the chain.

use serde::{Deserialize, Serialize};
use shardnet_protocol::ShardId;

pub(crate) const MAX_AUDIT_LEN: usize = 16 << 10;

/// What happened. JSON names are the command line's (`lease-extended`);
/// the stored form is the variant's index, so new actions go last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A shard was stored for the first time.
    Stored,
    /// A lease was added or extended on a stored shard.
    LeaseExtended,
    /// A read found the shard's bytes do not match its id.
    MarkedCorrupted,
    /// A corrupted shard was overwritten with verified bytes.
    Repaired,
    /// A backup entry was added to the catalogue.
    BackupAdded,
    /// A copy was removed because enough healthy copies are confirmed elsewhere
    /// (earlier versions deleted at once; now copies go to quarantine first).
    RemovedRedundant,
    /// A copy left service (redundant, shed or drained) but keeps its bytes
    /// until the copies elsewhere have passed proofs for the grace period.
    Quarantined,
    /// A quarantined copy went back to healthy (copies elsewhere failed).
    Unquarantined,
    /// A quarantined copy's bytes were deleted; the detail names the proofs.
    Purged,
    /// The operator isolated a peer by hand.
    PeerIsolated,
    /// The operator lifted a peer's isolation.
    PeerUnisolated,
    /// A scrub found a shard's bytes bad or missing.
    ScrubFound,
    /// The node started; the detail is its configuration.
    NodeStarted,
    /// The operator started draining the node.
    DrainStarted,
    /// The operator paused repair and rebalancing.
    RebalancePaused,
    /// The operator resumed repair and rebalancing.
    RebalanceResumed,
    /// The operator paused the background scrub.
    ScrubPaused,
    /// The operator started a scrub pass (or resumed the paced scrub).
    ScrubStarted,
    /// Events older than the audit retention were removed.
    AuditTrimmed,
    /// An owner's signed release dropped its lease on a shard.
    LeaseReleased,
    /// The owner deleted a backup (its catalogue entry gave way to a tombstone).
    BackupDeleted,
    /// The owner key was rotated: a backup's entry moved to the new key's.
    KeyRotated,
    /// Settings changed while running (`config set`, SIGHUP).
    ConfigChanged,
    /// The operator ended a drain.
    DrainCancelled,
}

impl AuditAction {
    /// Every action (new ones go last: the stored form is the index).
    pub const ALL: [AuditAction; 24] = [
        AuditAction::Stored,
        AuditAction::LeaseExtended,
        AuditAction::MarkedCorrupted,
        AuditAction::Repaired,
        AuditAction::BackupAdded,
        AuditAction::RemovedRedundant,
        AuditAction::Quarantined,
        AuditAction::Unquarantined,
        AuditAction::Purged,
        AuditAction::PeerIsolated,
        AuditAction::PeerUnisolated,
        AuditAction::ScrubFound,
        AuditAction::NodeStarted,
        AuditAction::DrainStarted,
        AuditAction::RebalancePaused,
        AuditAction::RebalanceResumed,
        AuditAction::ScrubPaused,
        AuditAction::ScrubStarted,
        AuditAction::AuditTrimmed,
        AuditAction::LeaseReleased,
        AuditAction::BackupDeleted,
        AuditAction::KeyRotated,
        AuditAction::ConfigChanged,
        AuditAction::DrainCancelled,
    ];

    /// The action's name on the command line and in human output.
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Stored => "stored",
            AuditAction::LeaseExtended => "lease-extended",
            AuditAction::MarkedCorrupted => "marked-corrupted",
            AuditAction::Repaired => "repaired",
            AuditAction::BackupAdded => "backup-added",
            AuditAction::RemovedRedundant => "removed-redundant",
            AuditAction::Quarantined => "quarantined",
            AuditAction::Unquarantined => "unquarantined",
            AuditAction::Purged => "purged",
            AuditAction::PeerIsolated => "peer-isolated",
            AuditAction::PeerUnisolated => "peer-unisolated",
            AuditAction::ScrubFound => "scrub-found",
            AuditAction::NodeStarted => "node-started",
            AuditAction::DrainStarted => "drain-started",
            AuditAction::RebalancePaused => "rebalance-paused",
            AuditAction::RebalanceResumed => "rebalance-resumed",
            AuditAction::ScrubPaused => "scrub-paused",
            AuditAction::ScrubStarted => "scrub-started",
            AuditAction::AuditTrimmed => "audit-trimmed",
            AuditAction::LeaseReleased => "lease-released",
            AuditAction::BackupDeleted => "backup-deleted",
            AuditAction::KeyRotated => "key-rotated",
            AuditAction::ConfigChanged => "config-changed",
            AuditAction::DrainCancelled => "drain-cancelled",
        }
    }
}

impl std::str::FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.name()).collect();
                format!("unknown audit action {s:?}; one of: {}", names.join(", "))
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    pub action: AuditAction,
    pub shard: Option<ShardId>,
    pub detail: String,
}

/// Which events [`Store::audit_query`] returns: the newest `limit` that
/// match every filter given, oldest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Unix seconds: events at or after.
    pub since: Option<u64>,
    pub action: Option<AuditAction>,
    pub shard: Option<ShardId>,
    pub limit: usize,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEvent) -> bool {
        self.action.is_none_or(|a| a == e.action) && self.shard.is_none_or(|s| e.shard == Some(s))
    }
}

/// What `audit verify` found in the chain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub events: u64,
    /// Events written before this store kept a chain (older versions).
    pub unchained: u64,
    /// The newest event and its link hash (hex): record it to check later
    /// that nothing before it was rewritten.
    pub head_seq: Option<u64>,
    pub head_hash: Option<String>,
    /// First sequence number after each run of missing events.
    pub gaps: Vec<u64>,
    /// Events whose bytes or link do not match the chain (at most 100).
    pub broken: Vec<u64>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }
}

pub(crate) use crate::db::CF_AUDIT_CHAIN;
const CHAIN_CONTEXT: &[u8] = b"shardnet audit chain v1\0";
const MAX_BROKEN: usize = 100;

/// The link hash of event `seq` (its encoded bytes) after `prev`.
pub(crate) fn link_hash(prev: &[u8; 32], seq: u64, event: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(CHAIN_CONTEXT);
    h.update(prev);
    h.update(&seq.to_be_bytes());
    h.update(event);
    *h.finalize().as_bytes()
}

/// A stored link: the previous hash, then this event's.
pub(crate) fn link_value(prev: &[u8; 32], hash: &[u8; 32]) -> [u8; 64] {
    let mut v = [0u8; 64];
    v[..32].copy_from_slice(prev);
    v[32..].copy_from_slice(hash);
    v
}

/// Checks a chain from `(seq, event bytes, stored link)` in sequence order.
pub(crate) fn check_chain(
    items: impl Iterator<Item = (u64, Vec<u8>, Option<Vec<u8>>)>,
) -> ChainReport {
    let mut r = ChainReport::default();
    let mut last: Option<(u64, [u8; 32])> = None;
    let broken = |r: &mut ChainReport, seq: u64| {
        if r.broken.len() < MAX_BROKEN {
            r.broken.push(seq);
        }
    };
    for (seq, event, link) in items {
        r.events += 1;
        let Some(link) = link else {
            // Unchained events may only come before the first chained one.
            if last.is_some() {
                broken(&mut r, seq);
            } else {
                r.unchained += 1;
            }
            continue;
        };
        let (Ok(prev), Ok(hash)) = (
            <[u8; 32]>::try_from(&link[..32.min(link.len())]),
            <[u8; 32]>::try_from(&link[32.min(link.len())..]),
        ) else {
            broken(&mut r, seq);
            continue;
        };
        if link_hash(&prev, seq, &event) != hash {
            broken(&mut r, seq);
        }
        match last {
            Some((s, h)) if s + 1 == seq && h != prev => broken(&mut r, seq),
            Some((s, _)) if s + 1 == seq => {}
            Some(_) => r.gaps.push(seq),
            None => {}
        }
        last = Some((seq, hash));
    }
    if let Some((s, h)) = last {
        r.head_seq = Some(s);
        r.head_hash = Some(hex::encode(h));
    }
    r
}

impl crate::Store {
    /// The chain's head at open: the last link hash and the next sequence
    /// number.
    pub(crate) fn load_audit_head(&self) -> Result<([u8; 32], u64), crate::StoreError> {
        let next = match self
            .db
            .iterator_cf(
                self.cf(crate::db::CF_AUDIT_NAME),
                rocksdb::IteratorMode::End,
            )
            .next()
        {
            Some(Ok((k, _))) => u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])) + 1,
            Some(Err(e)) => return Err(crate::StoreError::engine(e)),
            None => 1,
        };
        // The chain goes on from its last link (none in a store written
        // before the chain existed: it starts at the next event).
        let prev = match self
            .db
            .iterator_cf(self.cf(CF_AUDIT_CHAIN), rocksdb::IteratorMode::End)
            .next()
        {
            Some(Ok((_, v))) if v.len() == 64 => v[32..].try_into().unwrap_or([0; 32]),
            Some(Err(e)) => return Err(crate::StoreError::engine(e)),
            _ => [0; 32],
        };
        Ok((prev, next))
    }

    pub(crate) fn audit(
        &self,
        batch: &mut rocksdb::WriteBatch,
        action: AuditAction,
        shard: Option<ShardId>,
        detail: String,
    ) -> Result<(), crate::StoreError> {
        let mut head = self.audit_head.lock().unwrap_or_else(|p| p.into_inner());
        let seq = head.1;
        head.1 += 1;
        let ev = AuditEvent {
            seq,
            at: crate::db::now(),
            action,
            shard,
            detail,
        };
        let bytes = shardnet_protocol::codec::encode::<_, MAX_AUDIT_LEN>("audit event", &ev)?;
        let hash = link_hash(&head.0, seq, &bytes);
        batch.put_cf(
            self.cf(CF_AUDIT_CHAIN),
            seq.to_be_bytes(),
            link_value(&head.0, &hash),
        );
        batch.put_cf(self.cf(crate::db::CF_AUDIT_NAME), seq.to_be_bytes(), bytes);
        head.0 = hash;
        Ok(())
    }

    /// Audit events with `seq >= from`, oldest first, at most `limit`.
    pub fn audit_log(&self, from: u64, limit: usize) -> Result<Vec<AuditEvent>, crate::StoreError> {
        let start = from.to_be_bytes();
        let mode = rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(crate::db::CF_AUDIT_NAME), mode)
            .take(limit)
        {
            let (_, v) = item.map_err(crate::StoreError::engine)?;
            out.push(
                shardnet_protocol::codec::decode::<AuditEvent, MAX_AUDIT_LEN>("audit event", &v)?,
            );
        }
        Ok(out)
    }

    /// Records an operator action (or the node's start) on its own.
    pub fn record(&self, action: AuditAction, detail: String) -> Result<(), crate::StoreError> {
        let mut batch = rocksdb::WriteBatch::default();
        self.audit(&mut batch, action, None, detail)?;
        self.write(batch)?;
        // Rare, and worth keeping through a crash.
        self.flush()
    }

    /// The newest `filter.limit` events matching `filter`, oldest first.
    pub fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, crate::StoreError> {
        let mut out = Vec::new();
        for item in self.db_iter(crate::db::CF_AUDIT_NAME, rocksdb::IteratorMode::End) {
            let (_, v) = item?;
            let e: AuditEvent =
                shardnet_protocol::codec::decode::<_, MAX_AUDIT_LEN>("audit event", &v)?;
            if filter.since.is_some_and(|t| e.at < t) {
                break;
            }
            if filter.matches(&e) {
                out.push(e);
                if out.len() >= filter.limit {
                    break;
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Removes the oldest events written before `before` (unix seconds), at
    /// most `max` in one call, with their links, and records how many went
    /// (the chain goes on: its new first event simply has no predecessor).
    pub fn trim_audit(&self, before: u64, max: usize) -> Result<u64, crate::StoreError> {
        let mut batch = rocksdb::WriteBatch::default();
        let (mut n, mut last) = (0u64, 0u64);
        for item in self.db_iter(crate::db::CF_AUDIT_NAME, rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            let e: AuditEvent =
                shardnet_protocol::codec::decode::<_, MAX_AUDIT_LEN>("audit event", &v)?;
            if e.at >= before || n as usize >= max {
                break;
            }
            batch.delete_cf(self.cf(crate::db::CF_AUDIT_NAME), &k);
            batch.delete_cf(self.cf(CF_AUDIT_CHAIN), &k);
            (n, last) = (n + 1, e.seq);
        }
        if n > 0 {
            let detail = format!(
                "{n} events written before unix time {before} removed (through event {last})"
            );
            self.audit(&mut batch, AuditAction::AuditTrimmed, None, detail)?;
            self.write(batch)?;
            self.flush()?;
        }
        Ok(n)
    }

    /// Recomputes every link of the audit chain.
    pub fn audit_verify(&self) -> Result<ChainReport, crate::StoreError> {
        let mut err = None;
        let events = self.db_iter(crate::db::CF_AUDIT_NAME, rocksdb::IteratorMode::Start);
        let items = events.map_while(|item| match item {
            Ok((k, v)) => {
                let seq = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]));
                match self.db_get(CF_AUDIT_CHAIN, &k) {
                    Ok(link) => Some((seq, v.into_vec(), link)),
                    Err(e) => {
                        err = Some(e);
                        None
                    }
                }
            }
            Err(e) => {
                err = Some(e);
                None
            }
        });
        let report = check_chain(items);
        match err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

#[cfg(test)]
mod tests;
