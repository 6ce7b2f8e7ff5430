//! Scenario events as real actions on the live nodes (the mapping is in the
//! parent module's docs), and the closing restore that checks every backup's
//! bytes on a node that holds only the owner key.

use super::nodes::remove_lost_disk;
use super::Driver;
use crate::report::Report;
use crate::scenario::Action;
use anyhow::{bail, Context};
use shardnet_node::daemon::Stop;
use shardnet_node::ops::RestoreRequest;
use shardnet_node::repair::RepairStatus;

impl Driver<'_> {
    pub(super) fn apply(&mut self, a: &Action, report: &mut Report) -> anyhow::Result<()> {
        match a {
            Action::Crash { nodes } => {
                for &i in nodes {
                    if i < self.nodes.len() && self.nodes[i].api.is_some() {
                        report.crashes += 1;
                        self.stop(i, Stop::Crash);
                        remove_lost_disk(self.nodes[i].dd.root());
                    }
                }
            }
            Action::Join { count, liars } => {
                if *liars {
                    bail!("live mode has no lying peers (tests/e2e_liars.rs runs real ones); run this scenario in model mode");
                }
                for _ in 0..*count {
                    self.add_node()?;
                    report.joins += 1;
                }
            }
            Action::Leave { nodes } => {
                for &i in nodes {
                    if i < self.nodes.len() && self.nodes[i].api.is_some() {
                        report.graceful_departures += 1;
                        self.stop(i, Stop::Graceful);
                    }
                }
            }
            Action::Drain { nodes } => {
                for &i in nodes {
                    if let Some(api) = self.nodes.get(i).and_then(|n| n.api.as_ref()) {
                        let _: RepairStatus = api.post("/v1/node/drain", &serde_json::json!({}))?;
                        report.graceful_departures += 1;
                    }
                }
            }
            Action::ZoneDown { zone } => {
                report.zone_outages += 1;
                for i in 0..self.nodes.len() {
                    if self.nodes[i].zone == *zone && self.nodes[i].api.is_some() {
                        self.stop(i, Stop::Crash);
                    }
                }
            }
            Action::ZoneUp { zone } => {
                for i in 0..self.nodes.len() {
                    let n = &self.nodes[i];
                    if n.zone == *zone && n.api.is_none() && n.dd.root().exists() {
                        self.restart(i)?;
                    }
                }
            }
            Action::Corrupt { node, shards } => {
                if self.nodes.get(*node).is_some_and(|n| n.api.is_some()) {
                    self.stop(*node, Stop::Graceful);
                    let store = self.nodes[*node].dd.open_store()?;
                    let mut ids = Vec::new();
                    store.for_each_meta(|id, _| {
                        ids.push(id);
                        ids.len() < *shards
                    })?;
                    for id in &ids {
                        store.debug_overwrite_bytes(id, b"corrupted by the simulator")?;
                        store.mark_corrupted(id, "simulated corruption found by a scrub")?;
                        report.corruptions += 1;
                    }
                    store.flush()?;
                    drop(store);
                    eprintln!("live:   corrupted {} shard(s) on node {node}", ids.len());
                    self.restart(*node)?;
                }
            }
            Action::Fill { node } => {
                if let Some(api) = self.nodes.get(*node).and_then(|n| n.api.as_ref()) {
                    let st: shardnet_node::api::NodeStatus = api.get("/v1/status")?;
                    self.stop(*node, Stop::Graceful);
                    self.nodes[*node].capacity = st.used;
                    self.restart(*node)?;
                }
            }
            Action::Restore => self.restore_all(report)?,
        }
        Ok(())
    }

    pub(super) fn restore_all(&mut self, report: &mut Report) -> anyhow::Result<()> {
        let Some(&i) = self.up().last() else {
            return Ok(());
        };
        let api = self.nodes[i].api.clone().context("no node")?;
        for (k, (id, _, src, _)) in self.backups.clone().iter().enumerate() {
            report.restores_attempted += 1;
            let dest = self
                .work
                .join(format!("restore-{}-{k}", report.restores_attempted));
            let r: anyhow::Result<shardnet_node::restore::RestoreReport> = api.post(
                "/v1/backup/restore",
                &RestoreRequest {
                    id: *id,
                    dest: dest.clone(),
                    path: None,
                    force: false,
                },
            );
            let name = src.file_name().context("source has no name")?;
            match &r {
                Err(e) => eprintln!("live: restore of backup {id} on node {i}: {e:#}"),
                Ok(r) if !r.failed.is_empty() => eprintln!(
                    "live: restore of backup {id} on node {i}: {} files failed, first: {:?}",
                    r.failed.len(),
                    r.failed.first()
                ),
                Ok(_) => {}
            }
            let same = r.is_ok_and(|r| r.failed.is_empty())
                && std::fs::read(dest.join(name).join("data.bin")).ok()
                    == std::fs::read(src.join("data.bin")).ok();
            if same {
                report.restores_ok += 1;
            } else {
                eprintln!("live: restore of backup {id} on node {i} failed or differs");
            }
            let _ = std::fs::remove_dir_all(&dest);
        }
        Ok(())
    }
}
