//! A backend written outside baton-core, through its public seam only: the
//! proof that a program embedding the conductor can run agents its own way
//! with no change to the supervisor. Everything about this backend is in
//! this file; what makes the conductor use it is one `register` call.
//!
//! `Plain` runs the agent as a child in a process group of its own, on
//! pipes, and appends what it writes to the session's logs — the smallest
//! honest backend. It tells the agent it runs there (`RAN_ON=plain`), so
//! the tests see whose process it was.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use baton_config::{Backend as BackendName, SessionSpec};
use baton_core::backend::{
    self, Backend, Backends, Begun, Delivery, InputDelivery, InputError, Leftovers, Observation,
    OnConductorGone, RecordedRun, RunEnd, RunRequest, Site, Spawned, StartError, StdinJob, Stream,
};
use baton_core::eventlog::Event;
use baton_core::proc::{ExitStatus, Pid, Signal};
use baton_core::state::Missing;
use baton_core::{ConductorError, SessionState};
use common::{Harness, id, pid_gone};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::mpsc;

/// The agent on pipes, its output appended to the session's logs.
struct Plain {
    child: Child,
    pid: Pid,
    stdout: ChildStdout,
    stderr: ChildStderr,
    out_log: File,
    err_log: File,
    out_open: bool,
    err_open: bool,
    exited: bool,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
    input: Option<mpsc::UnboundedSender<StdinJob>>,
}

/// Opens a log for appending and says where this run's bytes begin.
fn append(path: &Path) -> Result<(File, u64), StartError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StartError::failed(Missing::LogsDir, format!("{}: {e}", path.display())))?;
    let offset = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, offset))
}

/// Writes what the session is sent to the agent's stdin, one job at a time.
fn writer(mut stdin: ChildStdin) -> mpsc::UnboundedSender<StdinJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StdinJob>();
    tokio::spawn(async move {
        while let Some((bytes, done)) = rx.recv().await {
            let written = stdin.write_all(&bytes).await.map_err(InputError::Write);
            let _ = done.send(written);
        }
    });
    tx
}

impl Backend for Plain {
    const ON_CONDUCTOR_GONE: OnConductorGone = OnConductorGone::Terminate;

    async fn start(
        req: &RunRequest,
        _site: Site,
        _resume: Option<RecordedRun>,
    ) -> Result<(Plain, Begun), StartError> {
        req.preflight().await?;
        let (out_log, out_offset) = append(&req.out_path)?;
        let (err_log, err_offset) = append(&req.err_path)?;
        let (program, args) = req
            .argv
            .split_first()
            .ok_or_else(|| StartError::failed(Missing::Command, "empty argv"))?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .current_dir(&req.cwd)
            .envs(req.env.iter().map(|(k, v)| (k, v)))
            .env("RAN_ON", "plain")
            .stdin(if req.stdin_pipe {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StartError::failed(Missing::Binary, format!("{program}: {e}")))?;
        let pid = Pid(child.id().expect("a child that has not been waited for"));
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let input = child.stdin.take().map(writer);
        let spawned = Spawned {
            pid,
            start_time: baton_core::proc::process_start_time(pid),
            out_offset,
            err_offset,
            launch: req.launch(),
        };
        let plain = Plain {
            child,
            pid,
            stdout,
            stderr,
            out_log,
            err_log,
            out_open: true,
            err_open: true,
            exited: false,
            out_buf: vec![0; 16 * 1024],
            err_buf: vec![0; 16 * 1024],
            input,
        };
        Ok((plain, Begun::Spawned(Box::new(spawned))))
    }

    async fn end_recorded(_site: Site, _run: &RecordedRun, _out_path: &Path) {
        // Its runs end with their conductor: nothing is left to end.
    }

    async fn observe(&mut self) -> Observation<'_> {
        if self.exited && !self.out_open && !self.err_open {
            return Observation::Settled;
        }
        tokio::select! {
            biased;
            read = self.stdout.read(&mut self.out_buf), if self.out_open => match read {
                Ok(0) | Err(_) => {
                    self.out_open = false;
                    Observation::Idle
                }
                Ok(n) => {
                    self.out_log.write_all(&self.out_buf[..n]).expect("stdout log");
                    Observation::Output { stream: Stream::Stdout, bytes: &self.out_buf[..n] }
                }
            },
            read = self.stderr.read(&mut self.err_buf), if self.err_open => match read {
                Ok(0) | Err(_) => {
                    self.err_open = false;
                    Observation::Idle
                }
                Ok(n) => {
                    self.err_log.write_all(&self.err_buf[..n]).expect("stderr log");
                    Observation::Output { stream: Stream::Stderr, bytes: &self.err_buf[..n] }
                }
            },
            status = self.child.wait(), if !self.exited => {
                self.exited = true;
                let status = status.map(ExitStatus::from).unwrap_or(ExitStatus { code: None, signal: None });
                Observation::Exited(status)
            }
        }
    }

    async fn after_exit(&mut self) -> Leftovers {
        if baton_core::proc::group_is_empty(self.pid) {
            Leftovers::None
        } else {
            Leftovers::Some
        }
    }

    async fn signal(&mut self, signal: Signal) -> Delivery {
        backend::signal_group(self.pid, true, signal)
    }

    fn input(&mut self, bytes: Vec<u8>) -> InputDelivery {
        backend::queue_input(self.input.as_ref(), InputError::NoStdin, bytes)
    }

    async fn finish(&mut self, _end: RunEnd, _terminating: bool) -> Vec<u8> {
        let _ = self.out_log.flush();
        let _ = self.err_log.flush();
        Vec::new()
    }
}

/// A conductor that knows the `plain` backend.
fn harness() -> Harness {
    Harness::new(|opts| {
        opts.backends
            .register::<Plain>("plain")
            .expect("a fresh name");
    })
}

/// A `sh -c SCRIPT` session on the `plain` backend.
fn on_plain(name: &str, script: &str) -> SessionSpec {
    let mut spec = SessionSpec::command(id(name), vec!["sh".into(), "-c".into(), script.into()]);
    spec.backend = BackendName::Custom("plain".into());
    spec
}

#[tokio::test]
async fn a_backend_written_outside_the_crate_runs_a_session_to_its_end() {
    let h = harness();
    let spec = on_plain(
        "p1",
        r#"echo "on $RAN_ON"; echo warning >&2; echo '{"answer":42}'"#,
    );
    h.spawn(spec).await;
    assert_eq!(
        h.wait_terminal("p1").await,
        SessionState::Completed,
        "{}",
        h.dump()
    );
    assert_eq!(
        h.path_of("p1"),
        [
            SessionState::Init,
            SessionState::Starting,
            SessionState::Healthy,
            SessionState::Completed
        ],
        "{}",
        h.dump()
    );
    assert_eq!(h.out_log("p1"), b"on plain\n{\"answer\":42}\n");
    assert_eq!(h.err_log("p1"), b"warning\n");
    let records = h.session_records("p1");
    let spawn = records
        .iter()
        .find_map(|r| match &r.event {
            Event::Spawn { backend, argv, .. } => Some((backend.clone(), argv.clone())),
            _ => None,
        })
        .expect("a spawn record");
    assert_eq!(spawn.0.as_deref(), Some("plain"));
    assert_eq!(spawn.1[0], "sh");
    let payload = records.iter().find_map(|r| match &r.event {
        Event::Completed { payload, .. } => payload.clone(),
        _ => None,
    });
    assert_eq!(payload, Some(serde_json::json!({"answer": 42})));
    h.finish().await;
}

#[tokio::test]
async fn the_conductor_signals_and_writes_to_a_custom_backend_run() {
    let h = harness();
    // Input reaches the agent through the backend.
    let mut echo = on_plain("echo", "read line; echo \"got $line\"");
    echo.stdin = Some(baton_config::StdinMode::Pipe);
    h.spawn(echo).await;
    h.wait_state("echo", SessionState::Starting).await;
    h.conductor
        .send_input(&id("echo"), b"hello\n".to_vec(), false, "user")
        .await
        .expect("input written");
    assert_eq!(
        h.wait_terminal("echo").await,
        SessionState::Completed,
        "{}",
        h.dump()
    );
    assert_eq!(h.out_log("echo"), b"got hello\n");

    // A kill ends the whole group through the backend's `signal`.
    let pid_file = h.dir.path().join("child.pid");
    let script = format!("sleep 60 & echo $! > {}; echo up; wait", pid_file.display());
    h.spawn(on_plain("sleeper", &script)).await;
    h.wait_state("sleeper", SessionState::Healthy).await;
    let grandchild = common::read_pid_file(&pid_file).await;
    tokio::time::timeout(Duration::from_secs(10), h.conductor.kill(&id("sleeper")))
        .await
        .expect("kill returns")
        .expect("kill accepted");
    assert_eq!(h.wait_terminal("sleeper").await, SessionState::Dead);
    assert!(
        pid_gone(grandchild),
        "the group's other process is ended too"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_crash_on_a_custom_backend_is_restarted_by_the_usual_rules() {
    let h = harness();
    let mut spec = on_plain("crash", "echo attempt $BATON_ATTEMPT; exit 3");
    spec.max_restarts = Some(1);
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("crash").await, SessionState::Dead);
    assert_eq!(h.out_log("crash"), b"attempt 1\nattempt 2\n");
    let spawns = h
        .session_records("crash")
        .into_iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count();
    assert_eq!(spawns, 2, "{}", h.dump());
    h.finish().await;
}

#[tokio::test]
async fn a_session_naming_a_backend_nobody_registered_is_refused_and_nothing_starts() {
    let h = harness();
    let mut spec = on_plain("nope", "true");
    spec.backend = BackendName::Custom("plane".into());
    let err = h.conductor.spawn(spec).await.expect_err("unknown backend");
    assert!(matches!(err, ConductorError::Config(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "configuration: session `nope`: no backend named `plane` is registered with this conductor \
         (it has `pipes`, `pty`, `tmux`, `plain`)"
    );
    assert!(h.session_records("nope").is_empty(), "{}", h.dump());
    // A name is registered once.
    let mut backends = Backends::new();
    backends.register::<Plain>("plain").unwrap();
    assert!(backends.register::<Plain>("plain").is_err());
    h.finish().await;
}
