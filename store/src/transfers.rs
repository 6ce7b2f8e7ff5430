//! The persistent transfer queue: repair, handoff and rebalance copies wait
//! here (in RocksDB, so a restart resumes them), keyed so that iteration
//! order is run order.

use crate::db::{Store, CF_TRANSFERS};
use crate::error::StoreError;
use rocksdb::{IteratorMode, WriteBatch};
use shardnet_protocol::codec;
use shardnet_protocol::ShardId;

/// Largest encoded transfer job.
const MAX_TRANSFER_LEN: usize = 4096;

/// A queued copy of a shard to a peer (repair, handoff or rebalance).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferJob {
    pub shard: ShardId,
    /// The target peer's id, as bytes.
    pub peer: Vec<u8>,
    /// "repair" or "handoff".
    pub reason: String,
    pub attempts: u32,
    pub size: u32,
}

impl Store {
    /// Adds a job to the persistent transfer queue. Keys sort by (priority,
    /// due time, shard, peer): lower priority values run first. Re-adding the
    /// same job under the same key is harmless.
    pub fn enqueue_transfer(
        &self,
        priority: u8,
        due: u64,
        job: &TransferJob,
    ) -> Result<Vec<u8>, StoreError> {
        let mut key = vec![priority];
        key.extend_from_slice(&due.to_be_bytes());
        key.extend_from_slice(&job.shard.0);
        key.extend_from_slice(&job.peer);
        let v = codec::encode::<_, MAX_TRANSFER_LEN>("transfer job", job)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_TRANSFERS), &key, v);
        self.write(batch)?;
        Ok(key)
    }

    /// Every queued transfer, in queue order: (key, due, job).
    pub fn transfers(&self) -> Result<Vec<(Vec<u8>, u64, TransferJob)>, StoreError> {
        let mut out = Vec::new();
        for item in self.db_iter(CF_TRANSFERS, IteratorMode::Start) {
            let (k, v) = item?;
            let due = k
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            out.push((
                k.to_vec(),
                due,
                codec::decode::<TransferJob, MAX_TRANSFER_LEN>("transfer job", &v)?,
            ));
        }
        Ok(out)
    }

    pub fn remove_transfer(&self, key: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_TRANSFERS), key);
        self.write(batch)
    }
}
