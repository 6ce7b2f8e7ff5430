//! The per-peer evidence log and reputation records, plus small node state
//! (scrub progress). Evidence is what this node saw a peer do (proofs passed
//! or failed, wrong bytes, false acks); the reputation record is the running
//! score computed from it (`shardnet_protocol::reputation`). Both are written
//! in one batch, and only the newest [`MAX_EVIDENCE_PER_PEER`] events of a
//! peer are kept, so a flood of events costs bounded space.

use crate::audit::AuditAction;
use crate::db::{now, Store, CF_EVIDENCE, CF_PEERS, CF_STATE};
use crate::error::StoreError;
use rocksdb::{Direction, IteratorMode, WriteBatch};
use serde::{Deserialize, Serialize};
use shardnet_protocol::codec;
use shardnet_protocol::reputation::{Evidence, Reputation};
use shardnet_protocol::ShardId;

/// Newest evidence records kept per peer.
pub const MAX_EVIDENCE_PER_PEER: u64 = 256;
/// Longest peer id accepted as a key (libp2p ids are 38 bytes).
const MAX_PEER_LEN: usize = 64;
const MAX_RECORD_LEN: usize = 4096;
const MAX_STATE_LEN: usize = 64 << 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// Unix seconds.
    pub at: u64,
    pub evidence: Evidence,
    pub shard: Option<ShardId>,
    pub detail: String,
}

fn peer_prefix(peer: &[u8]) -> Result<Vec<u8>, StoreError> {
    if peer.is_empty() || peer.len() > MAX_PEER_LEN {
        return Err(StoreError::Engine(format!(
            "peer id of {} bytes is not valid",
            peer.len()
        )));
    }
    let mut k = vec![peer.len() as u8];
    k.extend_from_slice(peer);
    Ok(k)
}

fn evidence_key(peer: &[u8], n: u64) -> Result<Vec<u8>, StoreError> {
    let mut k = peer_prefix(peer)?;
    k.extend_from_slice(&n.to_be_bytes());
    Ok(k)
}

impl Store {
    /// Appends `rec` to `peer`'s evidence and stores `rep`, the score after it.
    pub fn record_evidence(
        &self,
        peer: &[u8],
        rec: &EvidenceRecord,
        rep: &Reputation,
    ) -> Result<(), StoreError> {
        let n = rep.passed + rep.failed;
        let mut batch = WriteBatch::default();
        let v = codec::encode::<_, MAX_RECORD_LEN>("evidence record", rec)?;
        batch.put_cf(self.cf(CF_EVIDENCE), evidence_key(peer, n)?, v);
        if n > MAX_EVIDENCE_PER_PEER {
            batch.delete_cf(
                self.cf(CF_EVIDENCE),
                evidence_key(peer, n - MAX_EVIDENCE_PER_PEER)?,
            );
        }
        let r = codec::encode::<_, MAX_RECORD_LEN>("reputation", rep)?;
        batch.put_cf(self.cf(CF_PEERS), peer_prefix(peer)?, r);
        self.write(batch)
    }

    /// Sets or lifts the operator's isolation of `peer`, with an audit record.
    pub fn set_manual_isolation(
        &self,
        peer: &[u8],
        display: &str,
        isolated: bool,
        reason: &str,
    ) -> Result<Reputation, StoreError> {
        let mut rep = self.reputation(peer)?.unwrap_or_default();
        rep.manual_isolation = isolated;
        let mut batch = WriteBatch::default();
        let r = codec::encode::<_, MAX_RECORD_LEN>("reputation", &rep)?;
        batch.put_cf(self.cf(CF_PEERS), peer_prefix(peer)?, r);
        let action = if isolated {
            AuditAction::PeerIsolated
        } else {
            AuditAction::PeerUnisolated
        };
        self.audit(
            &mut batch,
            action,
            None,
            format!("peer {display}: {reason}"),
        )?;
        self.write(batch)?;
        self.flush()?;
        Ok(rep)
    }

    pub fn reputation(&self, peer: &[u8]) -> Result<Option<Reputation>, StoreError> {
        match self.db_get(CF_PEERS, &peer_prefix(peer)?)? {
            Some(v) => Ok(Some(codec::decode::<_, MAX_RECORD_LEN>("reputation", &v)?)),
            None => Ok(None),
        }
    }

    /// Every peer with a record: (peer id bytes, reputation).
    pub fn reputations(&self) -> Result<Vec<(Vec<u8>, Reputation)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db_iter(CF_PEERS, IteratorMode::Start) {
            let (k, v) = item?;
            let peer = k.get(1..).unwrap_or_default().to_vec();
            out.push((peer, codec::decode::<_, MAX_RECORD_LEN>("reputation", &v)?));
        }
        Ok(out)
    }

    /// The newest `limit` evidence records of `peer`, oldest first.
    pub fn evidence(&self, peer: &[u8], limit: usize) -> Result<Vec<EvidenceRecord>, StoreError> {
        let prefix = peer_prefix(peer)?;
        let mut end = prefix.clone();
        end.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut out = Vec::new();
        for item in self.db_iter(CF_EVIDENCE, IteratorMode::From(&end, Direction::Reverse)) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(codec::decode::<EvidenceRecord, MAX_RECORD_LEN>(
                "evidence record",
                &v,
            )?);
        }
        out.reverse();
        Ok(out)
    }

    /// Small node state by name (scrub progress...).
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.db_get(CF_STATE, key.as_bytes())
    }

    /// Sets a state value; durable at the next flush.
    pub fn put_state(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if value.len() > MAX_STATE_LEN {
            return Err(StoreError::Engine(format!("state {key} too large")));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STATE), key.as_bytes(), value);
        self.write(batch)
    }

    /// Unix seconds now, as the store stamps its records.
    pub fn now(&self) -> u64 {
        now()
    }
}
