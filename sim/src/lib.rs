//! shardnet-sim: what happens to data with N peers under this churn?
//!
//! - [`scenario`]: the TOML scenario format shared by both modes.
//! - [`model`]: model mode, a discrete-event simulation over the real
//!   placement and repair functions of `shardnet-protocol`, for 10,000+ nodes
//!   over months.
//! - [`live`]: live mode, real nodes (the node crate's daemon: libp2p on
//!   127.0.0.1, RocksDB in temp dirs) in this process, driven by the scenario.
//! - [`report`]: the summary, time series, table and SVG plot both produce.
//! - [`compare`]: a scenario in both modes, and how far they agree.
//! - [`side_by_side`]: model runs under different placements or policies.

pub mod compare;
pub mod live;
pub mod model;
pub mod report;
pub mod scenario;
pub mod side_by_side;

pub use report::Report;
pub use scenario::Scenario;
