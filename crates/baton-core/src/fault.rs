//! Fault points: places where a test can make the conductor die at once, as
//! a SIGKILL at that very instant would, to prove that what the next
//! conductor finds there is recovered — or, at a pause point, stop for a
//! while, as a slow disk or a busy machine would, to open a race window.
//!
//! A chaos run finds such windows by chance and cannot replay them (the
//! race is in the timing, not the schedule); a fault point opens one on
//! purpose. `BATON_FAULT=NAME` in the conductor's environment arms the point
//! named `NAME` (`NAME@N`: the Nth time it is reached); nothing else does,
//! and an unarmed point costs one load of a cached value. The points are
//! listed in [`POINTS`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every fault point, by name.
pub const POINTS: &[&str] = &[
    TMUX_PANE_CREATED,
    REMOTE_PANE_CREATED,
    LOG_ROLLED,
    LOG_ROLL_SLOW,
    EVENTS_ROLLED,
    RUN_UNRECORDED,
];

/// A local tmux pane exists, tagged with its run; its `spawn` record is not
/// written yet.
pub const TMUX_PANE_CREATED: &str = "tmux_pane_created";

/// A remote tmux pane exists, tagged with its run; its `spawn` record is not
/// written yet.
pub const REMOTE_PANE_CREATED: &str = "remote_pane_created";

/// An output log's active file was renamed to a segment; its new active
/// file is not made yet.
pub const LOG_ROLLED: &str = "log_rolled";

/// A pause point: an output log's writer finished its active file and is
/// about to make the next one. Armed, it waits [`ROLL_PAUSE`] there (and
/// lives on): a follower that reads meanwhile finds no next file yet.
pub const LOG_ROLL_SLOW: &str = "log_roll_slow";

/// How long a writer stopped at [`LOG_ROLL_SLOW`] waits.
pub const ROLL_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// A local run (pipes or PTY) runs; its `spawn` record is not written yet.
/// The conductor dies [`UNRECORDED_FOR`] later, doing nothing else
/// meanwhile: long enough for the agent's first steps, so what it started
/// is there when the next conductor looks.
pub const RUN_UNRECORDED: &str = "run_unrecorded";

/// How long a conductor stopped at [`RUN_UNRECORDED`] lets its run go on.
pub const UNRECORDED_FOR: std::time::Duration = std::time::Duration::from_millis(1500);

/// The event log's plain file became its first segment; the next one is
/// not made yet.
pub const EVENTS_ROLLED: &str = "events_rolled";

/// Whether the point `name` is armed for this hit (each call is a hit).
fn hit(name: &'static str) -> bool {
    static HITS: AtomicU32 = AtomicU32::new(0);
    let Some((armed, nth)) = armed() else {
        return false;
    };
    armed == name && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *nth
}

/// The point armed by `BATON_FAULT`, and on which of its hits, read once.
fn armed() -> Option<&'static (String, u32)> {
    static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
    ARMED
        .get_or_init(|| parse(&std::env::var("BATON_FAULT").ok()?))
        .as_ref()
}

/// `NAME` (the first hit) or `NAME@N` (the Nth, from 1).
fn parse(armed: &str) -> Option<(String, u32)> {
    match armed.split_once('@') {
        Some((name, n)) => Some((name.to_owned(), n.parse().ok().filter(|n| *n > 0)?)),
        None => Some((armed.to_owned(), 1)),
    }
}

/// Kills this process with SIGKILL if the point `name` is armed for this
/// hit: no destructor, flush or last record runs, exactly as when the
/// process is killed from outside.
pub fn point(name: &'static str) {
    point_after(name, std::time::Duration::ZERO);
}

/// As [`point`], but the process dies `delay` after reaching the point; the
/// calling thread sleeps meanwhile, so what it was about to do is never done.
pub fn point_after(name: &'static str, delay: std::time::Duration) {
    if !hit(name) {
        return;
    }
    eprintln!("baton: fault point `{name}` armed by BATON_FAULT: SIGKILL in {delay:?}");
    std::thread::sleep(delay);
    // SAFETY: kill(2) on our own pid has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}

/// Makes the calling thread wait `pause` if the pause point `name` is
/// armed for this hit; nothing else changes.
pub fn pause(name: &'static str, pause: std::time::Duration) {
    if hit(name) {
        eprintln!("baton: pause point `{name}` armed by BATON_FAULT: waiting {pause:?}");
        std::thread::sleep(pause);
    }
}

#[cfg(test)]
#[test]
fn an_armed_point_names_its_hit() {
    assert_eq!(
        parse("tmux_pane_created"),
        Some(("tmux_pane_created".into(), 1))
    );
    assert_eq!(
        parse("tmux_pane_created@3"),
        Some(("tmux_pane_created".into(), 3))
    );
    assert_eq!(parse("x@0"), None);
    assert_eq!(parse("x@two"), None);
}
