//! `shardnet distribution status`.

use super::print_json;
use crate::cli::DistributionCommand;
use crate::datadir::DataDir;
use crate::output::size;
use shardnet_protocol::distribution::Distribution;

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn bars(hist: &[(usize, u64)], what: &str) {
    let most = hist.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    for (k, n) in hist {
        let bar = "#".repeat(((n * 40).div_ceil(most)) as usize);
        println!("  {k:>3} {what:<7} {n:>8}  {bar}");
    }
}

pub(super) fn run(dd: &DataDir, cmd: DistributionCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        DistributionCommand::Status => {
            let c = super::node::daemon(dd)?;
            let d: Distribution = c.with_progress(!json, "proving copies", || {
                c.post("/v1/distribution/status", &serde_json::json!({}))
            })?;
            if json {
                print_json(&d)?;
            } else {
                print_human(&d);
            }
            Ok(if d.lost > 0 {
                2
            } else if d.below_target > 0 {
                1
            } else {
                0
            })
        }
    }
}

fn print_human(d: &Distribution) {
    println!(
        "{} shards ({}) of {} live backups; {} below target, {} with no proven copy",
        d.shards,
        size(d.bytes),
        d.backups.len(),
        d.below_target,
        d.lost
    );
    println!("proven copies per shard:");
    bars(&d.histogram, "copies");
    println!("zones per shard:");
    bars(&d.zone_spread, "zones");
    println!("\nBACKUP        SHARDS  WANTED  FEWEST  BELOW  MIN ZONES  SEPARATION");
    for b in &d.backups {
        let fewest = b.histogram.first().map_or(0, |(c, _)| *c);
        let sep = if b.whole_holders.is_empty() {
            "ok".to_string()
        } else {
            format!("BROKEN: {} hold every shard", b.whole_holders.len())
        };
        println!(
            "{:<12}  {:>6}  {:>6}  {:>6}  {:>5}  {:>9}  {sep}",
            short(&b.backup),
            b.shards,
            b.wanted,
            fewest,
            b.below_target,
            b.min_zones
        );
    }
    println!("\nHOLDER                                                  ZONE        SHARDS  BYTES       SHARE");
    for h in d.holders.iter().take(20) {
        println!(
            "{:<54}  {:<10}  {:>6}  {:<10}  {:>5.1}%",
            h.peer,
            h.zone,
            h.shards,
            size(h.bytes),
            h.share * 100.0
        );
    }
    if d.holders.len() > 20 {
        println!(
            "... {} more holders (--json lists all)",
            d.holders.len() - 20
        );
    }
    if !d.below.is_empty() {
        println!("\nbelow target (repair restores them; `rebalance status` on their holders):");
        for s in &d.below {
            println!(
                "  {}  backup {}  {} of {} copies, {} zones",
                short(&s.shard),
                short(&s.backup),
                s.proven,
                s.wanted,
                s.zones
            );
        }
    }
}
