//! Fault points: places where a test can make the conductor die at once, as
//! a SIGKILL at that very instant would, to prove that what the next
//! conductor finds there is recovered.
//!
//! A chaos run finds such windows by chance and cannot replay them (the
//! race is in the timing, not the schedule); a fault point opens one on
//! purpose. `BATON_FAULT=NAME` in the conductor's environment arms the point
//! named `NAME`; nothing else does, and an unarmed point costs one load of
//! a cached value. The points are listed in [`POINTS`].

use std::sync::OnceLock;

/// Every fault point, by name.
pub const POINTS: &[&str] = &[TMUX_PANE_CREATED, REMOTE_PANE_CREATED];

/// A local tmux pane exists, tagged with its run; its `spawn` record is not
/// written yet.
pub const TMUX_PANE_CREATED: &str = "tmux_pane_created";

/// A remote tmux pane exists, tagged with its run; its `spawn` record is not
/// written yet.
pub const REMOTE_PANE_CREATED: &str = "remote_pane_created";

/// The point armed by `BATON_FAULT`, read once.
fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("BATON_FAULT").ok())
        .as_deref()
}

/// Kills this process with SIGKILL if the point `name` is armed: no
/// destructor, flush or last record runs, exactly as when the process is
/// killed from outside.
pub fn point(name: &'static str) {
    if armed() == Some(name) {
        eprintln!("baton: fault point `{name}` armed by BATON_FAULT: SIGKILL");
        // SAFETY: kill(2) on our own pid has no memory effects.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
