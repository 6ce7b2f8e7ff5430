//! Command handlers: turn parsed arguments into calls on the data dir and store,
//! and print human tables or `--json`. `anyhow` lives here, at the edge.

mod backup;
mod keys;
mod shards;

use crate::cli::{Cli, Command};
use crate::datadir::{self, DataDir};

/// Exit status for "finished, but some files were skipped" (as restic does).
pub const EXIT_INCOMPLETE: i32 = 3;

/// Runs a parsed command; returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let dd = DataDir::new(cli.data_dir.clone().unwrap_or_else(datadir::default_dir));
    let json = cli.json;
    match cli.command {
        Command::Init => keys::init(&dd, json),
        Command::Keys(k) => keys::run(&dd, k, json),
        Command::Backup(b) => backup::run(&dd, b, json),
        Command::Shards(s) => shards::run(&dd, s, json),
        Command::Bench(args) => crate::bench::run(&args, json),
    }
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
