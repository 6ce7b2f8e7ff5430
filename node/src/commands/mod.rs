//! Command handlers: turn parsed arguments into operations, run them on the
//! running node (control API) when there is one, else on the local store, and
//! print human tables or `--json`. `anyhow` lives here, at the edge.

mod audit;
mod backup;
mod config;
mod distribution;
mod keys;
mod node;
mod prune;
mod rebalance;
mod report;
mod retention;
mod scrub;

use crate::api::client::ApiClient;
use crate::cli::{Cli, Command};
use crate::datadir::{self, DataDir};

/// Exit status for "finished, but some files were skipped" (as restic does).
pub const EXIT_INCOMPLETE: i32 = 3;

/// Where an operation runs.
pub(crate) enum Target {
    /// No node runs for this data dir: open the store directly.
    Local,
    /// A node runs: ask it (it holds the store and the swarm).
    Daemon(ApiClient),
}

pub(crate) fn target(dd: &DataDir) -> Target {
    match ApiClient::connect(dd) {
        Some(c) => Target::Daemon(c),
        None => Target::Local,
    }
}

/// `shardnet sim ...` runs `shardnet-sim` (git-style): the simulator is built
/// on the node crate, so this binary cannot link it without a cycle. It is
/// looked up beside this executable first, then on `PATH`.
fn sim(args: Vec<String>) -> anyhow::Result<i32> {
    use anyhow::Context;
    use std::os::unix::process::CommandExt;
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("shardnet-sim")))
        .filter(|p| p.exists());
    let prog = beside.unwrap_or_else(|| "shardnet-sim".into());
    let err = std::process::Command::new(&prog).args(&args).exec();
    Err(err).with_context(|| {
        format!(
            "cannot run {}: build it with `cargo build -p shardnet-sim` (it is installed beside `shardnet`)",
            prog.display()
        )
    })
}

/// Runs a parsed command; returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let dd = DataDir::new(cli.data_dir.clone().unwrap_or_else(datadir::default_dir));
    let json = cli.json;
    match cli.command {
        Command::Init(a) => keys::init(&dd, a.id_difficulty, json),
        Command::Keys(k) => keys::run(&dd, k, json),
        Command::Backup(b) => backup::run(&dd, b, json),
        Command::Shards(s) => backup::shards(&dd, s, json),
        Command::Bench(args) => crate::bench::run(&args, json),
        Command::Node(n) => node::run(&dd, n, json),
        Command::Peers(p) => node::peers(&dd, p, json),
        Command::Rebalance(r) => rebalance::run(&node::daemon(&dd)?, r, json),
        Command::Scrub(s) => scrub::run(&node::daemon(&dd)?, s, json),
        Command::Audit(a) => audit::run(&dd, a, json),
        Command::Prune(p) => prune::run(&dd, p, json),
        Command::Retention(r) => retention::run(&dd, r, json),
        Command::Config(c) => config::run(&dd, c, json),
        Command::Distribution(c) => distribution::run(&dd, c, json),
        Command::Report(a) => report::run(&dd, a, json),
        Command::Sim { mut args } => {
            if json {
                args.push("--json".into());
            }
            sim(args)
        }
    }
}

pub(crate) use crate::output::print_json;
