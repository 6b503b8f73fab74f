//! `baton mcp` against a real daemon: `list` latency with many sessions,
//! and `wait` wake-up latency (a session's state record written → the tool
//! result in the MCP client's hands), each beside the same measurement
//! over the raw control socket.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use baton_core::SessionState;
use baton_proto::record::Event;
use baton_proto::request::Events;
use baton_proto::{Request, Response, read_frame};
use serde_json::{Value, json};

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::daemon::Daemon;
use crate::report::{Row, Target};
use crate::stats::Summary;

/// Calls before each timed series, not counted.
const WARMUP: usize = 5;

/// How long one MCP call may take.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Time given to `wait` (and the raw follower) to be listening before the
/// state change is caused.
const ARMED: Duration = Duration::from_millis(150);

pub async fn measure(
    ctx: &Ctx,
    sessions: usize,
    requests: usize,
    wakeups: usize,
) -> Fallible<Outcome> {
    let (baton, stand_in, dir) = (ctx.baton.clone(), ctx.stand_in.clone(), ctx.dir.clone());
    let fsync = ctx.fsync.as_str();
    let config = format!(
        "[conductor]\nfsync = \"{fsync}\"\ngrace = \"5s\"\n\n[probe]\nstall_after = \"1h\"\n"
    );
    let m = tokio::task::spawn_blocking(move || {
        let mut daemon = Daemon::start(&baton, &dir, &config)?;
        let measured = run(&mut daemon, &stand_in, &dir, sessions, requests, wakeups);
        let m = measured?;
        daemon.shutdown()?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(m)
    })
    .await
    .map_err(|e| format!("mcp figure panicked: {e}"))?;
    let m = m?;
    let summary = |samples: &[f64], what: &str| {
        Summary::of(samples).ok_or_else(|| format!("no {what} samples"))
    };
    let (list, ps) = (summary(&m.list, "list")?, summary(&m.ps, "ps")?);
    let (wait, follow) = (summary(&m.wait, "wait")?, summary(&m.follow, "events -f")?);
    let n = sessions;
    let notes = vec![
        format!(
            "mcp: `baton mcp` child of the bench on a real `baton daemon` with {n} healthy \
             sessions; list = one `tools/call list` JSON-RPC exchange over its stdio (the result \
             checked to hold {n} sessions), baseline = one `ps` exchange over the socket from the \
             bench, alternated, {requests} each after {WARMUP} unmeasured"
        ),
        format!(
            "mcp: wait wake-up = from the `ts` of a session's `state -> completed` record to the \
             `wait` result read by the bench ({wakeups} sessions, each `print:ready wait-file`, \
             the file created {} ms after `wait` was sent); baseline = the same record reaching \
             an `events -f` follower on the raw socket",
            ARMED.as_millis()
        ),
    ];
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("mcp list, {n} sessions, p50 (ms)"),
                list.p50,
                Some(ps.p50),
                Target::None,
            ),
            Row::new(
                format!("mcp list, {n} sessions, p99 (ms)"),
                list.p99,
                Some(ps.p99),
                Target::None,
            ),
            Row::new(
                "mcp wait wake-up, p50 (ms)",
                wait.p50,
                Some(follow.p50),
                Target::None,
            ),
            Row::new(
                "mcp wait wake-up, p99 (ms)",
                wait.p99,
                Some(follow.p99),
                Target::None,
            ),
        ],
        notes,
    })
}

struct Measured {
    list: Vec<f64>,
    ps: Vec<f64>,
    wait: Vec<f64>,
    follow: Vec<f64>,
}

fn run(
    daemon: &mut Daemon,
    stand_in: &Path,
    dir: &Path,
    sessions: usize,
    requests: usize,
    wakeups: usize,
) -> Fallible<Measured> {
    let stand_in = stand_in.to_string_lossy().into_owned();
    for i in 0..sessions {
        daemon.spawn(
            &format!("mcp-{i:04}"),
            vec![stand_in.clone(), "print:up".into(), "stall".into()],
        )?;
    }
    let deadline =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * sessions as u32;
    daemon.wait_all_in(sessions, SessionState::Healthy, deadline)?;
    std::thread::sleep(Duration::from_secs(1));

    let mut mcp = Mcp::start(daemon.baton(), daemon.socket())?;
    let (mut list, mut ps) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        let result = mcp.call("list", json!({}))?;
        let took = started.elapsed();
        let listed = result["structuredContent"]["sessions"]
            .as_array()
            .map_or(0, Vec::len);
        if listed != sessions {
            return Err(format!("mcp list returned {listed} sessions, expected {sessions}").into());
        }
        let started = Instant::now();
        let table = daemon.ps()?;
        let raw = started.elapsed();
        if table.len() != sessions {
            return Err(format!("ps listed {} sessions, expected {sessions}", table.len()).into());
        }
        if i >= WARMUP {
            list.push(took.as_secs_f64() * 1e3);
            ps.push(raw.as_secs_f64() * 1e3);
        }
    }

    let (mut wait, mut follow) = (Vec::new(), Vec::new());
    for i in 0..wakeups {
        let id = format!("wake-{i:03}");
        let file = dir.join(&id);
        daemon.spawn(
            &id,
            vec![
                stand_in.clone(),
                "print:ready".into(),
                format!("wait-file:{}", file.display()),
            ],
        )?;
        let ready = mcp.call(
            "wait",
            json!({"ids": [id], "until": ["healthy"], "timeout_s": 60}),
        )?;
        let since = ready["structuredContent"]["seq"].as_u64().unwrap_or(0);
        let follower = follow_until_completed(daemon, &id, since)?;
        mcp.send(
            "wait",
            json!({"ids": [id], "until": ["completed", "dead"], "timeout_s": 60, "since_seq": since}),
        )?;
        std::thread::sleep(ARMED);
        std::fs::write(&file, b"go")?;
        let result = mcp.receive()?;
        let got = SystemTime::now();
        let out = &result["structuredContent"];
        if out["state"] != "completed" {
            return Err(format!("wait for {id} answered {result}").into());
        }
        let (ts, followed) = follower
            .join()
            .map_err(|_| "the events follower panicked")??;
        let seq = out["seq"].as_u64().unwrap_or(0);
        if seq == 0 {
            return Err(format!("wait for {id} gave no seq: {result}").into());
        }
        wait.push(ms_between(ts, got)?);
        follow.push(ms_between(ts, followed)?);
    }
    drop(mcp);
    daemon.check_running()?;
    Ok(Measured {
        list,
        ps,
        wait,
        follow,
    })
}

/// Milliseconds from the record time `ts` (RFC 3339) to `then`.
fn ms_between(ts: jiff::Timestamp, then: SystemTime) -> Fallible<f64> {
    let then = jiff::Timestamp::try_from(then)?;
    Ok(then.duration_since(ts).as_secs_f64() * 1e3)
}

/// An `events -f` follower of `id` on the raw socket, on a thread: answers
/// the `ts` of the session's `state -> completed` record and when it came.
fn follow_until_completed(
    daemon: &Daemon,
    id: &str,
    since: u64,
) -> Fallible<std::thread::JoinHandle<Fallible<(jiff::Timestamp, SystemTime)>>> {
    let request = Request::Events(Events {
        session: Some(id.to_owned()),
        since: Some(since),
        follow: true,
    });
    let stream = daemon.open(&request, CALL_LIMIT)?;
    Ok(std::thread::spawn(move || {
        let mut stream = BufReader::new(stream);
        loop {
            match read_frame::<Response>(&mut stream) {
                Ok(Some(Response::Event(event))) => {
                    if let Event::State {
                        to: SessionState::Completed,
                        ..
                    } = event.record.event
                    {
                        let got = SystemTime::now();
                        let ts: jiff::Timestamp = event.record.ts.parse()?;
                        return Ok((ts, got));
                    }
                }
                Ok(Some(Response::SkippedEvents(_))) => {}
                Ok(other) => return Err(format!("events follower got {other:?}").into()),
                Err(e) => return Err(format!("events follower: {e}").into()),
            }
        }
    }))
}

/// A `baton mcp` child spoken to in JSON-RPC lines.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// The id of the call sent last, until its result is read.
    outstanding: Option<Value>,
}

impl Mcp {
    fn start(baton: &Path, socket: &Path) -> Fallible<Mcp> {
        let mut child = Command::new(baton)
            .arg("mcp")
            .arg("--socket")
            .arg(socket)
            .env("BATON_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start baton mcp: {e}"))?;
        let stdin = child.stdin.take().ok_or("baton mcp has no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("baton mcp has no stdout")?);
        let mut mcp = Mcp {
            child,
            stdin,
            stdout,
            next_id: 1,
            outstanding: None,
        };
        mcp.write(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "baton-bench", "version": env!("CARGO_PKG_VERSION")}}}),
        )?;
        let init = mcp.read()?;
        if init.get("result").is_none() {
            return Err(format!("baton mcp refused initialize: {init}").into());
        }
        mcp.write(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(mcp)
    }

    fn write(&mut self, message: &Value) -> Fallible<()> {
        let mut line = serde_json::to_vec(message)?;
        line.push(b'\n');
        self.stdin.write_all(&line)?;
        self.stdin.flush()?;
        Ok(())
    }

    fn read(&mut self) -> Fallible<Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("baton mcp closed its stdout".into());
        }
        Ok(serde_json::from_str(&line)?)
    }

    /// Sends a `tools/call` without waiting for its result.
    fn send(&mut self, tool: &str, arguments: Value) -> Fallible<()> {
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding = Some(Value::from(id));
        self.write(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}))
    }

    /// The result of the call sent last; a tool error is an `Err`.
    fn receive(&mut self) -> Fallible<Value> {
        let want = self.outstanding.take().ok_or("no call is outstanding")?;
        let deadline = Instant::now() + CALL_LIMIT;
        loop {
            let message = self.read()?;
            if message["id"] == want {
                let result = message
                    .get("result")
                    .cloned()
                    .ok_or_else(|| format!("baton mcp answered with an error: {message}"))?;
                if result["isError"] == true {
                    return Err(format!("tool error: {}", result["content"]).into());
                }
                return Ok(result);
            }
            if Instant::now() > deadline {
                return Err("baton mcp did not answer in time".into());
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Fallible<Value> {
        self.send(tool, arguments)?;
        self.receive()
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
