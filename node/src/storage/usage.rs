//! Space accounting of the local store: bytes held in all and per owner
//! (for capacity and quotas), the drain flag and the storage radius, all
//! shared with the membership heartbeats, and the limits they are checked
//! against.

use shardnet_protocol::placement::Key;
use shardnet_protocol::OwnerId;
use shardnet_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Space accounting of the local store, shared with membership heartbeats.
#[derive(Debug, Default)]
pub struct Usage {
    pub used: AtomicU64,
    per_owner: Mutex<HashMap<OwnerId, u64>>,
    pub draining: AtomicBool,
    /// Storage radius announced while shedding load (see `repair::shed`).
    pub radius: Mutex<Option<Key>>,
}

impl Usage {
    /// Scans the store once at start-up.
    pub fn scan(store: &Store) -> Result<Usage, StoreError> {
        let u = Usage::default();
        let mut per = HashMap::new();
        let mut total = 0u64;
        store.for_each_meta(|_, m| {
            total += m.size as u64;
            for l in &m.leases {
                *per.entry(l.owner).or_insert(0u64) += m.size as u64;
            }
            true
        })?;
        u.used.store(total, Ordering::Relaxed);
        *u.per_owner.lock().unwrap_or_else(|p| p.into_inner()) = per;
        Ok(u)
    }

    /// Owners charged for at least one copy here.
    pub fn owners(&self) -> u64 {
        self.per_owner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|v| **v > 0)
            .count() as u64
    }

    pub fn owner(&self, o: &OwnerId) -> u64 {
        self.per_owner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(o)
            .copied()
            .unwrap_or(0)
    }

    /// A copy left this node: its size no longer counts, for the node or for
    /// any owner that leased it.
    pub fn sub(&self, size: u64, owners: &[OwnerId]) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(size))
            });
        for o in owners {
            self.release(o, size);
        }
    }

    /// Copies a prune purge deleted (their metadata as it was).
    pub fn sub_purged(&self, gone: &[shardnet_store::ShardMeta]) {
        for m in gone {
            let owners: Vec<OwnerId> = m.leases.iter().map(|l| l.owner).collect();
            self.sub(m.size as u64, &owners);
        }
    }

    /// An owner released its lease on a copy that stays (until pruned):
    /// the owner is no longer charged for it.
    pub fn release(&self, o: &OwnerId, size: u64) {
        let mut per = self.per_owner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = per.get_mut(o) {
            *v = v.saturating_sub(size);
        }
    }

    pub fn radius(&self) -> Option<Key> {
        *self.radius.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, o: OwnerId, size: u64) {
        self.used.fetch_add(size, Ordering::Relaxed);
        *self
            .per_owner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(o)
            .or_insert(0) += size;
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub capacity: u64,
    pub quota_per_owner: u64,
    /// This node's placement key: whether an owner's avoid list names it.
    pub key: shardnet_protocol::placement::Key,
}
