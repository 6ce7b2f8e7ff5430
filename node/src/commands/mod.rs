//! Command handlers: turn parsed arguments into operations, run them on the
//! running node (control API) when there is one, else on the local store, and
//! print human tables or `--json`. `anyhow` lives here, at the edge.

mod audit;
mod backup;
mod keys;
mod node;
mod prune;
mod rebalance;
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
        Command::Config(crate::cli::ConfigCommand::Check { file }) => {
            let file = file.unwrap_or_else(|| dd.root().join("config.toml"));
            config_check(&file, json)
        }
        Command::Sim { mut args } => {
            if json {
                args.push("--json".into());
            }
            sim(args)
        }
    }
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `config check FILE`: the file as `node run` would read it, from a
/// scratch data dir (so that nothing of the node's own is touched).
fn config_check(file: &std::path::Path, json: bool) -> anyhow::Result<i32> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let scratch = tempfile::tempdir().context("making a scratch directory")?;
    std::fs::write(scratch.path().join("config.toml"), text)?;
    let result = crate::config::NodeConfig::load(scratch.path(), Default::default());
    let (ok, what) = match &result {
        Ok(_) => (true, "valid: node run would start with it".to_string()),
        Err(e) => (
            false,
            e.to_string().replace(
                &scratch.path().join("config.toml").display().to_string(),
                &file.display().to_string(),
            ),
        ),
    };
    if json {
        print_json(&serde_json::json!({ "file": file, "ok": ok, "detail": what }))?;
    } else if ok {
        println!("{}: ok", file.display());
    } else {
        eprintln!("{}: {what}", file.display());
    }
    Ok(if ok { 0 } else { 1 })
}
