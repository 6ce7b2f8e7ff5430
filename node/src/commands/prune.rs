//! `shardnet prune plan|run|jobs|status|rollback|purge` (see `crate::prune`),
//! through the running node, or on the store when none runs.

use super::{print_json, target, Target};
use crate::cli::PruneCommand;
use crate::datadir::DataDir;
use crate::ops::{self, PruneJobRequest, PruneRunRequest};
use crate::output;
use crate::prune::{JobStatus, PrunePlan};
use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;
use shardnet_protocol::prune::Class;
use shardnet_store::prune::PruneJob;
use shardnet_store::Store;

/// Through the node's API at `path`, or `local` on the store.
fn call<B: Serialize, T: DeserializeOwned>(
    dd: &DataDir,
    path: &str,
    body: &B,
    local: impl FnOnce(&Store) -> Result<T, ops::OpError>,
) -> anyhow::Result<T> {
    match target(dd) {
        Target::Daemon(c) => c.post(path, body),
        Target::Local => {
            let store = dd.open_store()?;
            for line in crate::prune::recover(&store, output::now_unix())
                .context("finishing prune jobs a crash interrupted")?
            {
                eprintln!("{line}");
            }
            Ok(local(&store)?)
        }
    }
}

fn plan_filter(a: &crate::cli::PlanFilterArgs) -> crate::prune::PlanFilter {
    crate::prune::PlanFilter {
        tier: a.tier,
        older_than: a.older_than.map(|d| d.as_secs()),
        reclaim: a.reclaim.map(|b| b.as_u64()),
    }
}

fn classes(names: &[String]) -> anyhow::Result<Vec<Class>> {
    names
        .iter()
        .map(|n| n.parse::<Class>().map_err(anyhow::Error::msg))
        .collect()
}

pub(super) fn run(dd: &DataDir, cmd: PruneCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        PruneCommand::Plan { class, out, filter } => {
            let req = PruneRunRequest {
                plan: None,
                classes: classes(&class)?,
                dry_run: true,
                filter: plan_filter(&filter),
            };
            let plan: PrunePlan = call(dd, "/v1/prune/plan", &req, |s| {
                ops::prune_plan(s, None, &req)
            })?;
            if let Some(path) = &out {
                std::fs::write(path, serde_json::to_vec_pretty(&plan)?)
                    .with_context(|| format!("writing the plan to {}", path.display()))?;
            }
            if json {
                print_json(&plan)?;
            } else {
                print_plan(&plan, out.as_deref());
            }
            Ok(0)
        }
        PruneCommand::Run {
            plan,
            class,
            dry_run,
            filter,
        } => {
            let filtered =
                filter.tier.is_some() || filter.older_than.is_some() || filter.reclaim.is_some();
            let plan = match &plan {
                Some(_) if filtered => anyhow::bail!(
                    "--tier, --older-than and --reclaim shape a new plan: give them to `prune plan`, not with --plan"
                ),
                Some(path) => Some(
                    std::path::absolute(path)
                        .with_context(|| format!("resolving {}", path.display()))?,
                ),
                None if class.is_empty() => {
                    anyhow::bail!("give a plan (--plan FILE from `prune plan --out`) or --class")
                }
                None => None,
            };
            let req = PruneRunRequest {
                plan,
                classes: classes(&class)?,
                dry_run,
                filter: plan_filter(&filter),
            };
            let job: PruneJob = call(dd, "/v1/prune/run", &req, |s| ops::prune_run(s, None, &req))?;
            print_job(&job, json, dry_run)?;
            Ok(0)
        }
        PruneCommand::Jobs => {
            let jobs: Vec<PruneJob> = call(dd, "/v1/prune/jobs", &(), ops::prune_jobs)?;
            if json {
                print_json(&jobs)?;
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = jobs
                .iter()
                .map(|j| {
                    vec![
                        j.id.to_string(),
                        output::time(j.created_at),
                        kebab(&j.state),
                        j.classes
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(","),
                        j.quarantined.to_string(),
                        j.skipped.to_string(),
                        j.restored.to_string(),
                        j.purged.to_string(),
                        output::size(j.purged_bytes),
                    ]
                })
                .collect();
            output::table(
                &[
                    "JOB",
                    "CREATED",
                    "STATE",
                    "CLASSES",
                    "QUARANTINED",
                    "SKIPPED",
                    "RESTORED",
                    "PURGED",
                    "FREED",
                ],
                &rows,
            );
            Ok(0)
        }
        PruneCommand::Status { job } => {
            let req = PruneJobRequest { job };
            let st: JobStatus = call(dd, "/v1/prune/status", &req, |s| ops::prune_status(s, &req))?;
            if json {
                print_json(&st)?;
                return Ok(0);
            }
            print_job(&st.job, false, false)?;
            for (at, line) in &st.job.history {
                println!("  {}  {line}", output::time(*at));
            }
            let rows: Vec<Vec<String>> = st
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.shard.to_string(),
                        e.class.name().into(),
                        output::size(e.bytes),
                        kebab(&e.state),
                        e.note.clone(),
                    ]
                })
                .collect();
            output::table(&["SHARD", "CLASS", "SIZE", "STATE", "NOTE"], &rows);
            Ok(0)
        }
        PruneCommand::Rollback { job } => {
            let req = PruneJobRequest { job };
            let j: PruneJob = call(dd, "/v1/prune/rollback", &req, |s| {
                ops::prune_rollback(s, &req)
            })?;
            print_job(&j, json, false)?;
            Ok(0)
        }
        PruneCommand::Purge { job } => {
            let req = PruneJobRequest { job };
            let j: PruneJob = call(dd, "/v1/prune/purge", &req, |s| {
                ops::prune_purge(s, None, &req)
            })?;
            print_job(&j, json, false)?;
            Ok(0)
        }
    }
}

/// A state's JSON name (`rolled-back`), for tables.
fn kebab<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn print_plan(p: &PrunePlan, out: Option<&std::path::Path>) {
    for t in &p.totals {
        println!(
            "{:<10} {:>8} shards {:>12}",
            t.class.name(),
            t.shards,
            output::size(t.bytes)
        );
    }
    for t in &p.tiers {
        println!(
            "tier {:<7} {:>8} shards {:>12}",
            t.tier,
            t.shards,
            output::size(t.bytes)
        );
    }
    if let Some(r) = p.filter.reclaim {
        let planned: u64 = p.entries.iter().map(|e| e.bytes).sum();
        println!(
            "reclaim {}: this plan frees {}{}",
            output::size(r),
            output::size(planned),
            if planned < r {
                " (all there is to prune; the rest must be handed off to peers)"
            } else {
                ""
            }
        );
    }
    for e in p.entries.iter().take(20) {
        println!(
            "  {} {} {}  {}",
            e.shard,
            e.class.name(),
            output::size(e.bytes),
            e.reason
        );
    }
    if p.entries.len() > 20 {
        println!(
            "  ... {} more (--json lists every one)",
            p.entries.len() - 20
        );
    }
    if !p.lost.is_empty() {
        println!(
            "{} shards are bad here with no healthy copy proven anywhere: LOST, kept as they are",
            p.lost.len()
        );
    }
    println!("plan {}", p.hash);
    match out {
        Some(path) => println!(
            "written to {}; run it with `shardnet prune run --plan {}`",
            path.display(),
            path.display()
        ),
        None => println!(
            "nothing changed; `prune plan --out FILE` writes it for `prune run --plan FILE`"
        ),
    }
}

fn print_job(j: &PruneJob, json: bool, dry_run: bool) -> anyhow::Result<()> {
    if json {
        return print_json(j);
    }
    if dry_run {
        println!(
            "dry run: {} of {} planned copies would go to quarantine ({}), {} skipped; nothing changed",
            j.quarantined,
            j.planned,
            output::size(j.quarantined_bytes),
            j.skipped
        );
        return Ok(());
    }
    println!(
        "prune job {} ({}): {} planned, {} quarantined ({}), {} skipped, {} restored, {} purged ({} freed)",
        j.id,
        kebab(&j.state),
        j.planned,
        j.quarantined,
        output::size(j.quarantined_bytes),
        j.skipped,
        j.restored,
        j.purged,
        output::size(j.purged_bytes)
    );
    Ok(())
}
