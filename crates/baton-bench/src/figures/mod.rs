//! One module per benchmark figure. Each measures baton and its baseline in
//! the same run, cleans up every process it started, and returns rows; it
//! returns an error only when a number could not be taken.

pub mod accounts;
pub mod daemon_events;
pub mod daemon_ps;
pub mod detector;
pub mod exit;
pub mod hook;
pub mod idle;
pub mod mcp;
pub mod parser;
pub mod prompt;
pub mod relay;
pub mod remote;
pub mod spawn;
pub mod stall;
pub mod throughput;
pub mod tui;
pub mod web;

use std::path::PathBuf;
use std::time::Duration;

use baton_config::FsyncPolicy;

use crate::report::Row;

/// How long a conductor shutdown may take before it is escalated or reported.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);

/// What every figure needs.
pub struct Ctx {
    /// The stand-in agent binary.
    pub stand_in: PathBuf,
    /// The `baton` binary, for the figures that start `baton daemon`.
    pub baton: PathBuf,
    /// A private scratch directory for this figure; removed afterwards.
    pub dir: PathBuf,
    /// The event-log durability of every conductor under test.
    pub fsync: FsyncPolicy,
    /// Run pipes sessions detached under `baton-shim`, as `baton daemon` does.
    pub detach: bool,
}

/// What a figure produced.
#[derive(Default)]
pub struct Outcome {
    /// Table rows.
    pub rows: Vec<Row>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

/// Stand-in steps from string slices.
pub fn steps(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}
