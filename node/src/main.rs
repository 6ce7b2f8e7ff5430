//! The `shardnet` binary: parse arguments, set up logging, run the command, and
//! turn errors into `Error: ...` with causes and a non-zero exit.

use clap::Parser;
use shardnet_node::cli::Cli;
use tracing_subscriber::EnvFilter;

/// Shards and chunks are 1–4 MiB buffers. By default glibc serves each with a
/// fresh mmap and returns it on free, so every buffer costs a page fault per
/// 4 KiB: measured as half the system time of a 1 GiB restore (2.6 s → 1.3 s
/// with these settings). Keep them on the heap instead.
///
/// glibc also gives a thread that allocates under contention an arena of its
/// own, up to 8 per core, and each arena keeps what was freed in it. With
/// the threads of a backup (rayon's, RocksDB's, tokio's) the peak RSS of a
/// 2 GiB backup in `shardnet bench` was 246-259 MiB, and 174-203 MiB with 2-4
/// arenas, at the same throughput (same machine, one session). So: two
/// arenas per core.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    let arenas = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    // SAFETY: mallopt only sets allocator parameters; called once, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_ARENA_MAX, arenas.clamp(2, 8) as libc::c_int);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() {
    tune_allocator();
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
