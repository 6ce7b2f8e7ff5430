//! Arguments of `shardnet bench`.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Bytes of each data set (incompressible and compressible).
    #[arg(long, default_value = "1GiB")]
    pub size: bytesize::ByteSize,
    /// Also back up and restore one file of this size and report peak memory (0 = skip).
    #[arg(long, default_value = "2GiB")]
    pub big_file: bytesize::ByteSize,
    /// Instead: back up and restore --size through a local swarm of this many
    /// node processes (3 copies), next to raw request-response throughput.
    #[arg(long, default_value_t = 0)]
    pub swarm: usize,
    /// With --swarm: keep file chunks as this policy says (`rs K+M`, e.g.
    /// `rs 3+2` on 5 nodes) instead of 3 copies; the backup's bound is then
    /// raw request-response ÷ (K+M)/K.
    #[arg(long, value_name = "POLICY")]
    pub redundancy: Option<shardnet_protocol::redundancy::Policy>,
    /// Instead: repair figures on a local swarm of this many node processes
    /// (time to full redundancy after a kill -9, traffic per byte lost, spread).
    #[arg(long, default_value_t = 0)]
    pub churn: usize,
    /// Instead: peer ids an attacker must generate to hold a majority of
    /// one chosen shard's responsible set, among this many honest peers
    /// (comma-separated, e.g. 100,10000).
    #[arg(long, value_delimiter = ',')]
    pub sybil: Vec<usize>,
    /// Work directory for generated data and stores (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
