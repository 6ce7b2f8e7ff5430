//! The `shardnet` binary: parse arguments, set up logging, run the command, and
//! turn errors into `Error: ...` with causes and a non-zero exit.

use clap::Parser;
use shardnet_node::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match shardnet_node::commands::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("Error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::exit(1);
        }
    }
}
