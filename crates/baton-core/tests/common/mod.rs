//! Test harness: a conductor on a temp dir, every published record
//! collected, and waits that end on an event or a deadline (never a sleep).

#![allow(dead_code)]

#[allow(unused_imports)]
pub use baton_testhost as sshd;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_config::{
    AgentsConfig, ConductorConfig, FsyncPolicy, ProbeConfig, SessionId, SessionSpec,
};
use baton_core::eventlog::{Event, Record, read_log};
use baton_core::{Conductor, ConductorOptions, SessionState};
use tokio::sync::Notify;

/// Generous bound for anything a test waits on.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Path of the stand-in agent binary built alongside the tests.
pub fn stand_in() -> PathBuf {
    // tests live in target/<profile>/deps/; binaries in target/<profile>/.
    let exe = std::env::current_exe().expect("test exe path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join("stand-in-agent");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace` or `cargo nextest run --workspace`)",
        path.display()
    );
    path
}

pub fn id(s: &str) -> SessionId {
    s.parse().expect("valid id")
}

/// A session spec running the stand-in agent with `steps`.
pub fn script(name: &str, steps: &[&str]) -> SessionSpec {
    let mut argv = vec![stand_in().display().to_string()];
    argv.extend(steps.iter().map(|s| s.to_string()));
    SessionSpec::command(id(name), argv)
}

pub fn fast_options(dir: &Path) -> ConductorOptions {
    ConductorOptions {
        conductor: ConductorConfig {
            logs_dir: dir.join("logs"),
            grace: Duration::from_millis(500),
            backoff: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            fsync: FsyncPolicy::Batch,
            ..ConductorConfig::default()
        },
        probe: ProbeConfig {
            // Long enough that a descheduled agent on a loaded CI machine does
            // not stall spuriously; tests about stalls set their own.
            stall_after: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(10),
            ..ProbeConfig::default()
        },
        agents: AgentsConfig::default(),
        base_dir: dir.to_owned(),
        accounts: Default::default(),
        detach: false,
        hosts: Default::default(),
        backends: Default::default(),
        pricing: Default::default(),
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    logs_dir: PathBuf,
    pub conductor: Conductor,
    records: Arc<Mutex<Vec<Record>>>,
    notify: Arc<Notify>,
}

impl Harness {
    pub fn new(tweak: impl FnOnce(&mut ConductorOptions)) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = fast_options(dir.path());
        tweak(&mut opts);
        Self::with_options(dir, opts)
    }

    pub fn with_options(dir: tempfile::TempDir, opts: ConductorOptions) -> Harness {
        let logs_dir = opts.conductor.logs_dir.clone();
        let (conductor, mut rx) = Conductor::start_subscribed(opts).expect("conductor starts");
        let records = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let (r, n) = (records.clone(), notify.clone());
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        r.lock().unwrap().push(ev.record.clone());
                        n.notify_waiters();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                        panic!("test subscriber lagged by {k} records")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Harness {
            dir,
            logs_dir,
            conductor,
            records,
            notify,
        }
    }

    pub fn logs(&self) -> PathBuf {
        self.logs_dir.clone()
    }

    /// The session's whole stdout log, across its segments.
    pub fn out_log(&self, id: &str) -> Vec<u8> {
        baton_core::seglog::read_from(&self.logs().join(format!("{id}.out.log")), 0, u64::MAX)
            .unwrap_or_default()
    }

    /// The session's whole stderr log, across its segments.
    pub fn err_log(&self, id: &str) -> Vec<u8> {
        baton_core::seglog::read_from(&self.logs().join(format!("{id}.err.log")), 0, u64::MAX)
            .unwrap_or_default()
    }

    pub async fn spawn(&self, spec: SessionSpec) -> SessionId {
        self.conductor.spawn(spec).await.expect("spawn accepted")
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    pub fn session_records(&self, id: &str) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.session.as_deref() == Some(id))
            .collect()
    }

    /// Waits for the first record matching `pred`.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Record) -> bool) -> Record {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let notified = self.notify.notified();
            if let Some(r) = self.records().into_iter().find(|r| pred(r)) {
                return r;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; records so far:\n{}",
                    self.dump()
                );
            }
        }
    }

    /// Waits for a `state` event of session `id` to state `to`.
    pub async fn wait_state(&self, id: &str, to: SessionState) -> Record {
        self.wait_for(&format!("{id} -> {to}"), |r| {
            r.session.as_deref() == Some(id)
                && matches!(&r.event, Event::State { to: t, .. } if *t == to)
        })
        .await
    }

    /// Waits until `id` is dead or completed; returns which.
    pub async fn wait_terminal(&self, id: &str) -> SessionState {
        let r = self
            .wait_for(&format!("{id} terminal"), |r| {
                r.session.as_deref() == Some(id)
                    && matches!(&r.event, Event::State { to, .. } if to.is_terminal())
            })
            .await;
        match r.event {
            Event::State { to, .. } => to,
            _ => unreachable!(),
        }
    }

    /// (from, to, reason) of every transition of `id`, in order.
    pub fn transitions(&self, id: &str) -> Vec<(SessionState, SessionState, String)> {
        self.session_records(id)
            .into_iter()
            .filter_map(|r| match r.event {
                Event::State {
                    from, to, reason, ..
                } => Some((from, to, reason)),
                _ => None,
            })
            .collect()
    }

    /// The argv of `id`'s first recorded run.
    pub fn spawn_argv(&self, id: &str) -> Vec<String> {
        self.session_records(id)
            .into_iter()
            .find_map(|r| match r.event {
                Event::Spawn { argv, .. } => Some(argv),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} has no spawn record:\n{}", self.dump()))
    }

    pub fn path_of(&self, id: &str) -> Vec<SessionState> {
        let t = self.transitions(id);
        let mut path: Vec<SessionState> = t.first().map(|x| vec![x.0]).unwrap_or_default();
        path.extend(t.iter().map(|x| x.1));
        path
    }

    pub fn dump(&self) -> String {
        self.records()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Shuts down, then checks the log on disk: same records as published,
    /// strictly increasing seq, no invalid transition, no torn line.
    pub async fn finish(self) -> Vec<Record> {
        self.conductor
            .shutdown("test_end", false)
            .await
            .expect("shutdown");
        let log = read_log(&self.logs().join("events.jsonl")).expect("log readable");
        assert!(!log.torn_tail, "clean shutdown left a torn line");
        assert!(
            log.skipped_lines.is_empty(),
            "unreadable lines: {:?}",
            log.skipped_lines
        );
        for pair in log.records.windows(2) {
            assert_eq!(
                pair[1].seq,
                pair[0].seq + 1,
                "seq must be dense and increasing"
            );
        }
        let invalid: Vec<_> = log
            .records
            .iter()
            .filter(|r| matches!(r.event, Event::InvalidTransition { .. }))
            .collect();
        assert!(invalid.is_empty(), "invalid transitions: {invalid:?}");
        // Everything published was on disk (write-ahead), in the same order.
        let published = self.records();
        let on_disk: Vec<&Record> = log
            .records
            .iter()
            .filter(|r| r.seq >= published.first().map_or(0, |p| p.seq))
            .collect();
        assert_eq!(published.len(), on_disk.len().min(published.len()));
        for (p, d) in published.iter().zip(on_disk) {
            assert_eq!(p, d);
        }
        log.records
    }
}

/// True when `pid` no longer runs (gone, or a zombie waiting to be reaped).
pub fn pid_gone(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Reads a pid written by the stand-in's `leak-file:` step, waiting for it.
pub async fn read_pid_file(path: &Path) -> i32 {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no pid file at {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `ready` every 20 ms until it holds, yielding to other tasks
/// meanwhile; panics with `what` after `DEADLINE`.
pub async fn poll_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The reason and evidence of a `state` record.
pub fn why(record: &Record) -> (&str, Option<&str>) {
    match &record.event {
        Event::State {
            reason, evidence, ..
        } => (reason, evidence.as_deref()),
        other => panic!("not a state record: {other:?}"),
    }
}

/// The reasons of a hooked run's states when its hooks say: up, a
/// permission asked, the tool run, the turn ended.
pub const PERMISSION_THEN_IDLE: [&str; 5] = [
    "spawn",
    "first_output",
    "input_wait:permission",
    "tool_done",
    "input_wait:idle",
];

/// The session's `state` records, as (to, reason, evidence).
pub fn states(h: &Harness, name: &str) -> Vec<(SessionState, String, Option<String>)> {
    h.session_records(name)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::State {
                to,
                reason,
                evidence,
                ..
            } => Some((to, reason, evidence)),
            _ => None,
        })
        .collect()
}

/// Waits for `name`'s `input_wait` record of `kind` (its hooks said so).
pub async fn wait_kind(h: &Harness, name: &str, kind: baton_proto::WaitKind) -> Record {
    h.wait_for(&format!("{name} waiting for {kind}"), |r: &Record| {
        r.session.as_deref() == Some(name)
            && matches!(&r.event, Event::InputWait { kind: Some(k), .. } if *k == kind)
    })
    .await
}
