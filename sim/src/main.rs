//! `shardnet-sim` (also run as `shardnet sim`): run scenarios in model or live
//! mode, compare the two, or take the one-command tour.

use anyhow::Context;
use clap::{Parser, Subcommand};
use shardnet_sim::scenario::{Mode, Policy, Redundancy, Scenario};
use shardnet_sim::{compare, live, model, side_by_side, Report};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "shardnet sim",
    version,
    about = "shardnet swarm simulator: what happens to data with N peers under this churn?"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario file (examples in sim/scenarios/).
    Run {
        scenario: PathBuf,
        /// Overrides the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Overrides the scenario's mode.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Print the report as JSON (series included) instead of a table.
        #[arg(long)]
        json: bool,
        /// Where the report's .json and .svg go.
        #[arg(long, default_value = "sim-reports")]
        out: PathBuf,
    },
    /// Run a scenario live, then in the model from the same start, and compare.
    Validate {
        scenario: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "sim-reports")]
        out: PathBuf,
    },
    /// The tour: a live swarm backs up, loses nodes, repairs and restores; the
    /// same start is replayed in the model; then a large model run.
    Demo {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "sim-reports")]
        out: PathBuf,
    },
}

const DEMO_LIVE: &str = include_str!("../scenarios/demo-live.toml");
const DEMO_MODEL: &str = include_str!("../scenarios/demo-model.toml");

fn main() {
    // `shardnet-sim run x --json | head` ends quietly, as Unix tools do.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn work_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("shardnet-sim-")
        .tempdir()
        .context("creating a temporary directory for the live nodes")
}

/// A live run (model runs go through [`model_runs`]).
fn live_run(sc: &Scenario, seed: u64) -> anyhow::Result<Report> {
    anyhow::ensure!(
        sc.swarm.redundancy == Redundancy::Replicate,
        "live nodes replicate; run a scenario with `redundancy = \"rs\"` in model mode"
    );
    let work = work_dir()?;
    Ok(live::run(sc, seed, work.path())?.0)
}

/// A model run with a progress bar on stderr (drawn only on a terminal).
fn model_run(sc: &Scenario, seed: u64, zone_aware: bool) -> Report {
    model_run_in(sc, seed, zone_aware, &indicatif::MultiProgress::new())
}

/// [`model_run`] with its bar among `bars` (runs side by side).
fn model_run_in(
    sc: &Scenario,
    seed: u64,
    zone_aware: bool,
    bars: &indicatif::MultiProgress,
) -> Report {
    let pb = bars.add(indicatif::ProgressBar::new(sc.duration.as_secs()));
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {percent}% of simulated time, {elapsed} elapsed, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message(format!("{} ({} nodes)", sc.name, sc.swarm.nodes));
    let r = model::run_with_progress(sc, seed, zone_aware, None, &pb);
    pb.finish_and_clear();
    r
}

/// Where `r`'s report and plot go under `out`: named by everything a
/// side-by-side run varies (the redundancy too, or the run with pieces
/// overwrote the one with copies).
fn stem(r: &Report, out: &Path) -> std::path::PathBuf {
    out.join(format!(
        "{}-{}-{}-{}-{}-seed{}",
        slug(&r.scenario),
        r.mode,
        slug(&r.placement),
        r.policy,
        slug(&r.redundancy),
        r.seed
    ))
}

fn emit(r: &Report, out: &Path, json: bool) -> anyhow::Result<()> {
    let (j, s) = r
        .write(&stem(r, out))
        .with_context(|| format!("writing the report under {}", out.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        print!("{}", r.table());
        println!("  report {}\n  plot   {}\n", j.display(), s.display());
    }
    Ok(())
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Run {
            scenario,
            seed,
            mode,
            json,
            out,
        } => {
            let sc = Scenario::load(&scenario)?;
            let seed = seed.unwrap_or(sc.seed);
            let mode = mode.unwrap_or(sc.mode);
            let reports = if mode == Mode::Model {
                model_runs(&sc, seed)
            } else {
                vec![live_run(&sc, seed)?]
            };
            if let [r] = reports.as_slice() {
                return emit(r, &out, json);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
                for r in &reports {
                    r.write(&stem(r, &out))?;
                }
                return Ok(());
            }
            for r in &reports {
                emit(r, &out, false)?;
            }
            print!("{}", side_by_side::table(&reports));
            Ok(())
        }
        Cmd::Validate {
            scenario,
            seed,
            json,
            out,
        } => {
            let sc = Scenario::load(&scenario)?;
            validate(&sc, seed.unwrap_or(sc.seed), json, &out)
        }
        Cmd::Demo { json, out } => {
            let sc = Scenario::parse(DEMO_LIVE, "demo-live.toml")?;
            validate(&sc, sc.seed, json, &out)?;
            let big = Scenario::parse(DEMO_MODEL, "demo-model.toml")?;
            eprintln!(
                "model: {} nodes over {}...",
                big.swarm.nodes,
                humantime::format_duration(big.duration)
            );
            let r = model_run(&big, big.seed, true);
            emit(&r, &out, json)
        }
    }
}

/// The scenario's model run and the runs it is compared with
/// (`compare_*`), in that order. They are independent (each has its own
/// world and random stream from `seed`), so they run side by side, as many
/// at once as there are cores: each run's wall time is still that of one
/// core, and the whole takes about as long as its longest run.
fn model_runs(sc: &Scenario, seed: u64) -> Vec<Report> {
    let mut runs: Vec<(Scenario, bool)> = vec![(sc.clone(), sc.swarm.zone_aware)];
    if sc.compare_zone_blind {
        runs.push((sc.clone(), false));
    }
    if sc.compare_policies {
        let mut eager = sc.clone();
        eager.swarm.policy = Policy::Eager;
        runs.push((eager, sc.swarm.zone_aware));
    }
    if sc.compare_redundancy {
        let mut other = sc.clone();
        other.swarm.redundancy = sc.swarm.other_redundancy();
        runs.push((other, sc.swarm.zone_aware));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let bars = indicatif::MultiProgress::new();
    let done: std::sync::Mutex<Vec<Option<Report>>> =
        std::sync::Mutex::new(runs.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..cores.min(runs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((sc, zone_aware)) = runs.get(i) else {
                    break;
                };
                let r = model_run_in(sc, seed, *zone_aware, &bars);
                // ok: a poisoned lock means a run panicked; its report is lost, not the others'.
                let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
                done[i] = Some(r);
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn validate(sc: &Scenario, seed: u64, json: bool, out: &Path) -> anyhow::Result<()> {
    let work = work_dir()?;
    let c = compare::run(sc, seed, work.path())?;
    let stem = out.join(format!("{}-validation-seed{seed}", slug(&sc.name)));
    c.live.write(&stem.with_file_name(format!(
        "{}-live",
        stem.file_name().and_then(|s| s.to_str()).unwrap_or("v")
    )))?;
    c.model.write(&stem.with_file_name(format!(
        "{}-model",
        stem.file_name().and_then(|s| s.to_str()).unwrap_or("v")
    )))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", c.live.table());
        print!("{}", c.model.table());
        print!("{}", c.table());
        println!("  reports and plots in {}\n", out.display());
    }
    if !c.agrees {
        anyhow::bail!("live and model runs disagree beyond the stated tolerance");
    }
    Ok(())
}
