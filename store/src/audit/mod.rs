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

use shardnet_protocol::ShardId;

mod chain;
mod events;

use chain::{check_chain, link_hash, link_value};
pub use events::*;

pub(crate) const MAX_AUDIT_LEN: usize = 16 << 10;

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
