//! baton-core: a conductor you can embed.
//!
//! A [`Conductor`] starts agent CLIs as supervised sessions, judges their
//! health in layers (alive, output advancing, waiting for an answer,
//! acknowledged), restarts what fails, and records everything in an
//! append-only JSONL event log that is written before anyone is told.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use baton_core::{Conductor, ConductorOptions};
//! let manifest = baton_config::Manifest::load("baton.toml".as_ref())?;
//! let conductor = Conductor::start(ConductorOptions::from_manifest(&manifest))?;
//! for spec in manifest.sessions.clone() {
//!     conductor.spawn(spec).await?;
//! }
//! conductor.wait_all_terminal().await;
//! conductor.shutdown("done", false).await?;
//! # Ok(()) }
//! ```

pub mod conductor;
pub mod detectors;
pub mod eventlog;
pub mod fault;
pub mod hooks;
pub mod proc;
pub mod replay;
pub mod seglog;
pub mod state;
mod supervisor;
pub mod worktree;

pub use baton_config as config;
pub use baton_monitor as monitor;
pub use conductor::{
    Conductor, ConductorError, ConductorOptions, EVENTS_FILE, SessionRow, ShutdownReport,
};
pub use state::{FailureClass, SessionState};
pub use supervisor::backend;
