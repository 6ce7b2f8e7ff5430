//! Lying peers in the model: a share of the nodes take copies and say they
//! hold them, but keep nothing. Such a copy counts (it passed its receipt
//! proof) until its first audit, which comes a 24th of the audit interval
//! (±25%) after it arrived, as the node's `Audits::audit_ttl` has it; then it is dropped and the
//! liar's reputation takes a failed proof (`protocol::reputation`, as the
//! node's). An isolated liar leaves every responsible set and all its copies
//! stop counting. A liar never serves bytes, never repairs, and its copies
//! never justify dropping an honest one (the node proves copies in the scan
//! that removes one).

use super::{Ev, Sim};
use rand::seq::SliceRandom;
use rand::Rng;
use shardnet_protocol::reputation::{Evidence, Policy, Standing};

impl Sim<'_> {
    /// Marks `churn.liar_fraction` of the nodes as liars.
    pub(super) fn pick_liars(&mut self) {
        let n = self.nodes.len();
        let count = (self.sc.churn.liar_fraction * n as f64).round() as usize;
        if count == 0 {
            // No draw: a run without liars is the run it was before them.
            return;
        }
        // The operator's own nodes do not lie.
        let mut idx: Vec<usize> = (0..n).filter(|&i| !self.nodes[i].trusted).collect();
        idx.shuffle(&mut self.rng);
        for &i in idx.iter().take(count) {
            self.nodes[i].liar = true;
        }
        self.report.liars = count as u64;
    }

    /// Shards whose every copy is on a liar (counted once the start is
    /// placed): a receipt proof cannot tell, so they are as good as lost.
    pub(super) fn count_liar_only(&mut self) {
        let nodes = &self.nodes;
        self.report.shards_placed_only_on_liars = self
            .shards
            .iter()
            .filter(|sh| {
                !sh.holders.is_empty() && sh.holders.iter().all(|&h| nodes[h as usize].liar)
            })
            .count() as u64;
    }

    /// A copy just went to node `n`: a liar's is audited soon.
    pub(super) fn on_copy(&mut self, s: u32, n: u32) {
        if !self.nodes[n as usize].liar {
            return;
        }
        let now = self.now;
        self.nodes[n as usize].first_copy_at.get_or_insert(now);
        // A new copy's first audit comes a 24th of the interval after its
        // receipt proof (`Audits::audit_ttl`), jittered ±25%.
        let first = self.sc.churn.audit_interval.as_millis() as f64 / 24.0;
        let t = now + (first * self.rng.gen_range(0.75..1.25)) as u64;
        self.at(t, Ev::Audit(s, n));
    }

    /// The co-holders audit node `n`'s copy of shard `s`.
    pub(super) fn audit(&mut self, s: u32, n: u32) {
        let node = &self.nodes[n as usize];
        if !node.liar || node.isolated || !self.shards[s as usize].holders.contains(&n) {
            return;
        }
        self.report.audit_failures += 1;
        self.drop_copy(s, n);
        let policy = Policy::default();
        let node = &mut self.nodes[n as usize];
        node.rep.record(Evidence::ProofFailed, self.now / 1000);
        if node.rep.standing(&policy) == Standing::Isolated {
            self.isolate(n);
        }
        self.evaluate(s);
    }

    fn isolate(&mut self, n: u32) {
        let node = &mut self.nodes[n as usize];
        node.isolated = true;
        let hours = (self.now - node.first_copy_at.unwrap_or(self.now)) as f64 / 3_600_000.0;
        self.report.liars_isolated += 1;
        self.report.isolation_hours_max = self.report.isolation_hours_max.max(hours);
        self.isolation_hours_sum += hours;
        self.report.isolation_hours_mean =
            self.isolation_hours_sum / self.report.liars_isolated as f64;
        let held: Vec<u32> = node.holdings.iter().copied().collect();
        for &s in &held {
            self.drop_copy(s, n);
        }
        self.sync(n);
        self.evaluate_affected(n, held);
    }
}
