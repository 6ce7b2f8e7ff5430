//! The node's own metrics, read when Prometheus scrapes: a [`Snapshot`]
//! the scrape handler fills on a blocking thread (api/observe.rs), exported
//! by [`NodeCollector`].

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use std::sync::Mutex;

mod encode;
mod repair;
mod snapshot;
mod storage;
mod upkeep;

pub use snapshot::*;

/// Exports the latest [`Snapshot`] at every scrape.
#[derive(Debug, Default)]
pub struct NodeCollector {
    pub snapshot: Mutex<Snapshot>,
}

impl Collector for NodeCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        storage::store_and_peers(&mut e, &s)?;
        repair::repair(&mut e, &s)?;
        upkeep::upkeep(&mut e, &s)
    }
}
