//! Validation: one scenario on real nodes, then in the model from the very
//! same start (the live run's peer keys, zones, shard ids, sizes and holders),
//! and how far the two agree on data movement and final placement.

use crate::model;
use crate::report::Report;
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Model and live repair traffic may differ by this share of the live figure.
pub const MOVEMENT_TOLERANCE: f64 = 0.25;
/// Mean Jaccard similarity of final holder sets the model must reach.
pub const PLACEMENT_TOLERANCE: f64 = 0.9;

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub live: Report,
    pub model: Report,
    /// model repair bytes / live repair bytes.
    pub movement_ratio: f64,
    /// Mean over shards of |live ∩ model| / |live ∪ model| holders at the end.
    pub placement_agreement: f64,
    /// Shards whose final holders are identical in both modes.
    pub identical_shards: usize,
    pub shards: usize,
    /// Shards whose final holders differ: (id, live holders, model holders).
    pub differing: Vec<(String, Vec<usize>, Vec<usize>)>,
    pub movement_tolerance: f64,
    pub placement_tolerance: f64,
    pub agrees: bool,
}

pub fn run(sc: &Scenario, seed: u64, work: &Path) -> anyhow::Result<Comparison> {
    let (live, layout) = crate::live::run(sc, seed, work)?;
    let model = model::run(sc, seed, true, Some(&layout));
    let live_map: HashMap<&String, BTreeSet<usize>> = live
        .placement_end
        .iter()
        .map(|(id, on)| (id, on.iter().copied().collect()))
        .collect();
    let mut sum = 0.0;
    let mut identical = 0;
    let mut differing = Vec::new();
    let shards = model.placement_end.len();
    for (id, on) in &model.placement_end {
        let m: BTreeSet<usize> = on.iter().copied().collect();
        let l = live_map.get(id).cloned().unwrap_or_default();
        let union = m.union(&l).count();
        let j = if union == 0 {
            1.0
        } else {
            m.intersection(&l).count() as f64 / union as f64
        };
        sum += j;
        identical += usize::from(m == l);
        if m != l {
            differing.push((id.clone(), l.into_iter().collect(), m.into_iter().collect()));
        }
    }
    let placement_agreement = sum / shards.max(1) as f64;
    let movement_ratio = if live.repair_bytes == 0 {
        if model.repair_bytes == 0 {
            1.0
        } else {
            f64::INFINITY
        }
    } else {
        model.repair_bytes as f64 / live.repair_bytes as f64
    };
    let agrees = (movement_ratio - 1.0).abs() <= MOVEMENT_TOLERANCE
        && placement_agreement >= PLACEMENT_TOLERANCE;
    Ok(Comparison {
        live,
        model,
        movement_ratio,
        placement_agreement,
        identical_shards: identical,
        shards,
        differing,
        movement_tolerance: MOVEMENT_TOLERANCE,
        placement_tolerance: PLACEMENT_TOLERANCE,
        agrees,
    })
}

impl Comparison {
    pub fn table(&self) -> String {
        let size = |b: u64| bytesize::ByteSize::b(b).display().iec().to_string();
        format!(
            "validation of {:?}: live against model from the same start\n  {:<34} {:>12} {:>12}\n  {:<34} {:>12} {:>12}\n  {:<34} {:>12} {:>12}\n  {:<34} {:>12} {:>12}\n  movement model/live {:.2} (tolerance ±{:.0}%), placement agreement {:.3} (at least {:.2}), identical {} of {} shards: {}\n",
            self.live.scenario,
            "", "LIVE", "MODEL",
            "repair traffic", size(self.live.repair_bytes), size(self.model.repair_bytes),
            "stored at end", size(self.live.stored_bytes_end), size(self.model.stored_bytes_end),
            "shards below target at end",
            self.live.series.last().map_or(0, |s| s.shards_below_target),
            self.model.series.last().map_or(0, |s| s.shards_below_target),
            self.movement_ratio,
            self.movement_tolerance * 100.0,
            self.placement_agreement,
            self.placement_tolerance,
            self.identical_shards,
            self.shards,
            if self.agrees { "AGREE" } else { "DISAGREE" },
        ) + &self
            .differing
            .iter()
            .map(|(id, l, m)| {
                format!(
                    "  {}…  live on {l:?}, model on {m:?}\n",
                    id.get(..12).unwrap_or(id)
                )
            })
            .collect::<String>()
    }
}
