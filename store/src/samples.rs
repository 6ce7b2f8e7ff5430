//! Metric samples kept for the node's daily and weekly reports: one small
//! record every few minutes under `sample/` + big-endian Unix time in the
//! state column family (so a period is one range scan), trimmed with the
//! audit retention.

use crate::db::{Store, CF_STATE};
use crate::StoreError;
use rocksdb::{Direction, IteratorMode, WriteBatch};

const PREFIX: &[u8] = b"sample/";
/// A sample's encoded size, at most.
pub(crate) const MAX_SAMPLE_LEN: usize = 16 << 10;

fn key(at: u64) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(&at.to_be_bytes());
    k
}

impl Store {
    /// Keeps a sample taken at `at`; durable at the next flush.
    pub fn put_sample(&self, at: u64, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() > MAX_SAMPLE_LEN {
            return Err(StoreError::Engine(format!(
                "sample of {} bytes over {MAX_SAMPLE_LEN}",
                bytes.len()
            )));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_STATE), key(at), bytes);
        self.write(batch)
    }

    /// Samples taken in `[from, to)`, oldest first, at most `max`.
    pub fn samples(&self, from: u64, to: u64, max: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let start = key(from);
        let mut out = Vec::new();
        for item in self.db_iter(CF_STATE, IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            if !k.starts_with(PREFIX) || k.as_ref() >= key(to).as_slice() || out.len() >= max {
                break;
            }
            out.push(v.to_vec());
        }
        Ok(out)
    }

    /// Audit events per action name in `[from, to)`, read newest first without
    /// keeping them (a busy day has many thousand `stored` events).
    pub fn audit_counts(
        &self,
        from: u64,
        to: u64,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.db_iter(crate::db::CF_AUDIT_NAME, IteratorMode::End) {
            let (_, v) = item?;
            let e: crate::AuditEvent = shardnet_protocol::codec::decode::<
                _,
                { crate::audit::MAX_AUDIT_LEN },
            >("audit event", &v)?;
            if e.at < from {
                break;
            }
            if e.at < to {
                *out.entry(e.action.name().to_string()).or_default() += 1;
            }
        }
        Ok(out)
    }

    /// Removes the samples taken before `before`; how many went.
    pub fn trim_samples(&self, before: u64) -> Result<u64, StoreError> {
        let mut batch = WriteBatch::default();
        let mut n = 0;
        for item in self.db_iter(CF_STATE, IteratorMode::From(PREFIX, Direction::Forward)) {
            let (k, _) = item?;
            if !k.starts_with(PREFIX) || k.as_ref() >= key(before).as_slice() {
                break;
            }
            batch.delete_cf(self.cf(CF_STATE), &k);
            n += 1;
        }
        if n > 0 {
            self.write(batch)?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn samples_are_kept_in_time_order_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.put_state("scrub", b"{}").unwrap();
        for at in [300u64, 100, 200, 1 << 40] {
            store.put_sample(at, &at.to_le_bytes()).unwrap();
        }
        let got = store.samples(100, 300, 10).unwrap();
        assert_eq!(
            got,
            vec![100u64.to_le_bytes().to_vec(), 200u64.to_le_bytes().to_vec()]
        );
        assert_eq!(store.samples(0, u64::MAX, 2).unwrap().len(), 2);
        assert_eq!(store.trim_samples(250).unwrap(), 2);
        assert_eq!(store.samples(0, u64::MAX, 10).unwrap().len(), 2);
        assert_eq!(
            store.get_state("scrub").unwrap().as_deref(),
            Some(&b"{}"[..])
        );
        assert!(store
            .put_sample(1, &vec![0; super::MAX_SAMPLE_LEN + 1])
            .is_err());
    }
}
