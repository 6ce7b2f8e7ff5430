//! Loading a scenario and checking what TOML alone cannot: ranges, counts
//! and combinations, each error naming the file and the field.

use super::*;

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: p.clone(),
            source,
        })?;
        Scenario::parse(&text, &p)
    }

    pub fn parse(text: &str, path: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        s.check(path)?;
        Ok(s)
    }

    /// Nodes ever present: the initial ones plus scripted joins.
    pub fn max_nodes(&self) -> usize {
        self.swarm.nodes
            + self
                .events
                .iter()
                .map(|e| match e.action {
                    Action::Join { count, .. } => count,
                    _ => 0,
                })
                .sum::<usize>()
    }

    pub fn sample_interval(&self) -> Duration {
        self.sample_every
            .unwrap_or(self.duration / 200)
            .max(Duration::from_millis(100))
    }

    fn check(&self, path: &str) -> Result<(), ScenarioError> {
        let bad = |field: &str, message: String| {
            Err(ScenarioError::Invalid {
                path: path.into(),
                field: field.into(),
                message,
            })
        };
        let sw = &self.swarm;
        if sw.nodes == 0 {
            return bad("swarm.nodes", "at least one node".into());
        }
        if sw.nodes > 1_000_000 {
            return bad(
                "swarm.nodes",
                format!("{} is more than 1,000,000", sw.nodes),
            );
        }
        if sw.zones == 0 || sw.zones > sw.nodes.max(1) {
            return bad(
                "swarm.zones",
                format!(
                    "between 1 and the node count ({}), got {}",
                    sw.nodes, sw.zones
                ),
            );
        }
        if sw.shard_size == 0 || sw.bandwidth == 0 {
            return bad("swarm", "shard_size and bandwidth must be positive".into());
        }
        if self.duration.is_zero() {
            return bad("duration", "must be positive".into());
        }
        if !(2..=16).contains(&sw.rs_data) {
            return bad(
                "swarm.rs_data",
                format!("between 2 and 16 data pieces, got {}", sw.rs_data),
            );
        }
        if self.mode == Mode::Live && (sw.redundancy == Redundancy::Rs || self.compare_redundancy) {
            return bad(
                "swarm.redundancy",
                "live nodes replicate; erasure coding runs in model mode only".into(),
            );
        }
        if sw.patience_max.is_some_and(|p| p < sw.down_after) {
            return bad(
                "swarm.patience_max",
                "must be at least swarm.down_after".into(),
            );
        }
        for (i, b) in self.backups.iter().enumerate() {
            if b.size == 0 || b.count == 0 {
                return bad(
                    &format!("backups[{i}]"),
                    "size and count must be positive".into(),
                );
            }
        }
        let c = &self.churn;
        for (name, v) in [
            ("churn.joins_per_day", c.joins_per_day),
            ("churn.outages_per_node_per_day", c.outages_per_node_per_day),
            ("churn.zone_outages_per_day", c.zone_outages_per_day),
            (
                "churn.corruption_per_copy_per_year",
                c.corruption_per_copy_per_year,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, format!("a rate is a number >= 0, got {v}"));
            }
        }
        if !(0.0..=1.0).contains(&c.graceful_fraction) {
            return bad("churn.graceful_fraction", "between 0 and 1".into());
        }
        if !(0.0..=0.5).contains(&c.liar_fraction) {
            return bad("churn.liar_fraction", "between 0 and 0.5".into());
        }
        if c.audit_interval.is_zero() {
            return bad("churn.audit_interval", "must be positive".into());
        }
        let mut nodes = sw.nodes;
        let mut events: Vec<&Event> = self.events.iter().collect();
        events.sort_by_key(|e| e.at);
        for (i, e) in events.iter().enumerate() {
            let field = format!("events[{i}] ({:?} at {:?})", kind(&e.action), e.at);
            if e.at > self.duration {
                return bad(&field, "after the end of the scenario".into());
            }
            let check_node = |n: usize| -> Result<(), ScenarioError> {
                if n >= nodes {
                    return bad(
                        &field,
                        format!("node {n} does not exist (nodes are 0..{nodes})"),
                    );
                }
                Ok(())
            };
            match &e.action {
                Action::Crash { nodes: ns }
                | Action::Leave { nodes: ns }
                | Action::Drain { nodes: ns } => {
                    if ns.is_empty() {
                        return bad(&field, "names no node".into());
                    }
                    for n in ns {
                        check_node(*n)?;
                    }
                }
                Action::Join { count, .. } => {
                    if *count == 0 {
                        return bad(&field, "count must be positive".into());
                    }
                    nodes += count;
                }
                Action::ZoneDown { zone } | Action::ZoneUp { zone } => {
                    if *zone >= sw.zones {
                        return bad(
                            &field,
                            format!("zone {zone} does not exist (zones are 0..{})", sw.zones),
                        );
                    }
                }
                Action::Corrupt { node, shards } => {
                    check_node(*node)?;
                    if *shards == 0 {
                        return bad(&field, "shards must be positive".into());
                    }
                }
                Action::Fill { node } => check_node(*node)?,
                Action::Restore => {}
            }
        }
        Ok(())
    }
}
