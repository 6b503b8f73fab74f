//! The chaos suite (SPEC §12 "Faults"): a seeded random schedule of faults
//! against a real daemon and real sessions, round after round, and after
//! every round the promises checked, not eyeballed:
//!
//! - every byte each run wrote is in its session's log exactly once and in
//!   order (each run's slice of the log is a prefix of what that agent
//!   writes, and all of it when the run exited 0);
//! - `seq` is dense and never reused, across daemon restarts;
//! - every session is in the state its history implies (`ps` = `replay`);
//! - no run was started twice (each attempt has one `spawn` record);
//! - no process is left that belongs to no live session;
//! - no account lease is held once its session ended;
//! - the daemon answers.
//!
//! Faults: SIGKILL of agents, of a session's other processes (its shim, a
//! grandchild), of the daemon (restarted on the same logs dir) — at random
//! points, also mid-spawn and mid-kill —, `baton kill`, answers and kills
//! racing, agents that close stdout early, crashing agents, the tmux
//! server killed under its panes (here and on the remote host), and the
//! remote host's link cut (packets silently dropped) for up to 4 s, the
//! daemon sometimes killed and restarted while it is cut. The remote host is
//! a real sshd in a network namespace (`baton-testhost`); where none can be
//! made (not root, no `ip netns`) the suite runs without remote sessions.
//!
//! The short form (3 rounds) is part of the test suite. The long form:
//! `BATON_CHAOS_MINUTES=30 cargo nextest run -p baton --test chaos
//! --profile chaos --no-capture` (or `BATON_CHAOS_ROUNDS=N`); it prints its
//! figures. A failure names its seed; `BATON_CHAOS_SEED=<seed>` replays that
//! schedule (the faults and their order; their timing against the agents is
//! the machine's).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{baton, stand_in};

/// Rounds of the short form.
const SHORT_ROUNDS: u32 = 3;
/// Sessions started per round.
const SESSIONS: usize = 7;
/// Fault steps per round, and the pause between two.
const STEPS: usize = 10;
const STEP: Duration = Duration::from_millis(120);
/// How long the sessions of a round have to end once the faults stop.
const SETTLE: Duration = Duration::from_secs(20);

/// xorshift64*: the schedule is a pure function of the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a session's agent does, and so what its log must hold per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Writes lines at an interval and exits 0.
    Writer,
    /// Writes, asks, writes the answer and more, exits 0 (pipes only).
    Asker,
    /// Writes three lines and exits 3: restarted, then dead.
    Crasher,
    /// Leaves a grandchild in its group, writes, exits 0.
    Leaker,
    /// Starts a process that leaves its group (`setsid`), writes, exits 0.
    Escaper,
    /// Closes stdout at once, lingers, exits 0.
    Closer,
    /// A claude session (the stand-in as `claude`) on a leased account.
    Leased,
    /// Writes lines at an interval and exits 0, in tmux on the remote host.
    Remote,
}

const KINDS: [Kind; 8] = [
    Kind::Writer,
    Kind::Asker,
    Kind::Crasher,
    Kind::Leaker,
    Kind::Escaper,
    Kind::Closer,
    Kind::Leased,
    Kind::Remote,
];

fn lines(n: u32) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

impl Kind {
    /// The agent's steps (for `Leased`, its prompt).
    fn steps(self, dir: &Path, id: &str) -> Vec<String> {
        let pid_file = dir.join(format!("{id}.pid")).display().to_string();
        match self {
            Kind::Writer => vec!["lines:40:15ms".into(), "exit:0".into()],
            Kind::Asker => vec![
                "lines:5".into(),
                "ask:Proceed? (y/n) ".into(),
                "lines:5:10ms".into(),
                "exit:0".into(),
            ],
            Kind::Crasher => vec!["lines:3".into(), "sleep:100ms".into(), "exit:3".into()],
            Kind::Leaker => vec![
                format!("leak-file:{pid_file}:60s"),
                "lines:30:20ms".into(),
                "exit:0".into(),
            ],
            Kind::Escaper => vec![
                format!("escape-file:{pid_file}:60s"),
                "lines:30:20ms".into(),
                "exit:0".into(),
            ],
            Kind::Closer => vec!["close-stdout".into(), "sleep:300ms".into(), "exit:0".into()],
            Kind::Leased => vec!["lines:30:20ms".into()],
            Kind::Remote => vec!["lines:30:30ms".into(), "exit:0".into()],
        }
    }

    /// Everything one run writes to stdout when nothing interrupts it.
    fn expected(self) -> String {
        match self {
            Kind::Writer => lines(40),
            Kind::Asker => format!("{}Proceed? (y/n) answer: y\n{}", lines(5), lines(5)),
            Kind::Crasher => lines(3),
            Kind::Leaker | Kind::Escaper | Kind::Leased | Kind::Remote => lines(30),
            Kind::Closer => String::new(),
        }
    }
}

/// One session of a round.
struct Planned {
    id: String,
    kind: Kind,
    backend: &'static str,
}

/// Counts of what a run did, for the long form's figures.
#[derive(Default)]
struct Figures {
    rounds: u32,
    sessions: u32,
    faults: BTreeMap<&'static str, u32>,
    checks: BTreeMap<&'static str, u32>,
}

/// A daemon on a private dir, restarted by the faults.
struct Place {
    dir: tempfile::TempDir,
    socket: PathBuf,
    logs: PathBuf,
    config: PathBuf,
    daemon: Option<Child>,
    starts: u32,
    /// Marks every process of this run's sessions (their env).
    tag: String,
    /// The remote host `far` (dropped after the daemon, which ends its panes).
    host: Option<baton_testhost::NetnsHost>,
}

/// The inventory host of the remote sessions.
const HOST: &str = "far";
/// How long the daemon waits for an unanswering host before it calls the
/// session `failed` (and readopts it once the host answers again).
const REMOTE_TIMEOUT: &str = "3s";

/// `[hosts.far]` for `host`, as the daemon's config reads it.
fn host_table(host: &baton_testhost::NetnsHost) -> String {
    let config = host.host_config(HOST);
    let quoted = |s: &str| serde_json::Value::from(s).to_string();
    let options: Vec<String> = config.ssh_options.iter().map(|o| quoted(o)).collect();
    format!(
        "[hosts.{HOST}]\naddress = {address}\nuser = \"root\"\nport = {port}\n\
         identity = {identity}\nssh_options = [{options}]\nremote_timeout = \"{REMOTE_TIMEOUT}\"\n",
        address = quoted(&config.address),
        port = config.port,
        identity = quoted(
            &config
                .identity
                .expect("the host's key")
                .display()
                .to_string()
        ),
        options = options.join(", "),
    )
}

impl Place {
    fn new(seed: u64) -> Place {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let logs = dir.path().join("logs");
        let config = dir.path().join("baton.toml");
        let creds = dir.path().join("creds");
        let host = baton_testhost::NetnsHost::new();
        if host.is_none() {
            eprintln!("chaos: no remote host here; the suite runs without remote sessions");
        }
        // Faults count against a leased account like its own failures; a
        // breaker that opens leaves a session waiting (correctly) for minutes.
        std::fs::write(
            &config,
            format!(
                "[conductor]\ngrace = \"1s\"\nbackoff = \"100ms\"\nbackoff_max = \"300ms\"\n\
                 max_restarts = 2\n\
                 [probe]\nstall_after = \"5s\"\nstartup_timeout = \"20s\"\n\
                 [agents.claude]\nbin = \"{bin}\"\n\
                 [accounts]\nstate_dir = \"{state}\"\nauth_dir = \"{creds}\"\n\
                 circuit_failures = 1000\n\
                 [[accounts.claude]]\nid = \"a1\"\nmode = \"env\"\nenv = {{ ANTHROPIC_API_KEY = \"k1\" }}\n\
                 [[accounts.claude]]\nid = \"a2\"\nmode = \"env\"\nenv = {{ ANTHROPIC_API_KEY = \"k2\" }}\n\
                 {hosts}",
                bin = stand_in(),
                hosts = host.as_ref().map(host_table).unwrap_or_default(),
                state = dir.path().join("accounts").display(),
                creds = creds.display(),
            ),
        )
        .unwrap();
        std::fs::create_dir_all(&creds).unwrap();
        let mut place = Place {
            socket,
            logs,
            config,
            daemon: None,
            starts: 0,
            tag: format!("chaos-{seed:x}-{}", std::process::id()),
            dir,
            host,
        };
        place.start_daemon();
        place
    }

    fn start_daemon(&mut self) {
        self.starts += 1;
        let stderr = std::fs::File::create(
            self.dir
                .path()
                .join(format!("daemon-{}.stderr", self.starts)),
        )
        .unwrap();
        let child = Command::new(baton())
            .arg("daemon")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--logs-dir")
            .arg(&self.logs)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env_remove("BATON_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.baton(&["ps"]).status.success() {
            if let Some(status) = self.daemon.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("daemon exited with {status}:\n{}", self.daemon_log());
            }
            assert!(Instant::now() < deadline, "the daemon never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill9_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            // SAFETY: kill on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!("daemon-{}.stderr", self.starts)),
        )
        .unwrap_or_default()
    }

    fn baton(&self, args: &[&str]) -> Output {
        Command::new(baton())
            .args(args)
            .env("BATON_SOCKET", &self.socket)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ps(&self) -> Vec<Value> {
        let out = self.baton(&["ps", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// Every record, across the event log's segments.
    fn records(&self) -> Vec<Value> {
        common::events_text(&self.logs)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("seq").is_some())
            .collect()
    }

    fn spawn(&self, p: &Planned) -> Output {
        let steps = p.kind.steps(self.dir.path(), &p.id);
        let tag = format!("CHAOS_TAG={}", self.tag);
        let mut args: Vec<String> = vec![
            "spawn".into(),
            "--id".into(),
            p.id.clone(),
            "--env".into(),
            tag,
        ];
        if p.backend == "remote" {
            args.extend([
                "--backend".into(),
                "tmux".into(),
                "--host".into(),
                HOST.into(),
            ]);
        } else {
            args.extend(["--backend".into(), p.backend.into()]);
        }
        if p.kind == Kind::Leased {
            args.extend(["--agent".into(), "claude".into(), "--prompt".into()]);
            args.push(steps.join(" "));
        } else {
            args.push("--".into());
            args.push(stand_in());
            args.extend(steps);
        }
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        self.baton(&words)
    }

    /// Pids of the processes carrying this run's tag (and, given, session id).
    fn tagged(&self, session: Option<&str>) -> Vec<i32> {
        let tag = format!("CHAOS_TAG={}", self.tag);
        let id = session.map(|s| format!("BATON_SESSION_ID={s}"));
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if zombie(pid) {
                continue;
            }
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
            let has = |want: &str| vars.contains(&want.as_bytes());
            if has(&tag) && id.as_deref().is_none_or(has) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let _ = self.baton(&["shutdown", "--force"]);
            if let Some(mut child) = self.daemon.take() {
                let deadline = Instant::now() + Duration::from_secs(10);
                while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Whatever a failed round left behind goes too.
        for pid in self.tagged(None) {
            // SAFETY: kill on a pid this run's sessions started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn state_of(place: &Place, id: &str) -> Option<String> {
    place
        .ps()
        .into_iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["state"].as_str().map(str::to_owned))
}

fn terminal(state: &str) -> bool {
    state == "completed" || state == "dead"
}

/// One fault, on a session picked by `rng`.
fn inject(place: &mut Place, rng: &mut Rng, plan: &[Planned], figures: &mut Figures) {
    let live: Vec<&Planned> = plan
        .iter()
        .filter(|p| state_of(place, &p.id).is_some_and(|s| !terminal(&s)))
        .collect();
    let target = (!live.is_empty()).then(|| live[rng.below(live.len())]);
    let roll = rng.below(100);
    let fault: &'static str = match (roll, target) {
        (0..=14, _) => {
            place.kill9_daemon();
            // Sometimes a session is asked for while no daemon answers.
            if rng.chance(30) {
                std::thread::sleep(Duration::from_millis(rng.below(200) as u64));
            }
            place.start_daemon();
            "daemon_sigkill"
        }
        (15..=39, Some(p)) => {
            // The run's leader (the shim of a detached run, the agent of a
            // pty run, the pane's process of a tmux run).
            let pid = place
                .ps()
                .into_iter()
                .find(|r| r["id"] == p.id.as_str())
                .and_then(|r| r["pid"].as_u64());
            match pid {
                Some(pid) => {
                    // SAFETY: a pid our session table names.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    "leader_sigkill"
                }
                None => "none",
            }
        }
        (40..=59, Some(p)) => {
            // Any process of the session: the agent, a grandchild, the shim.
            let pids = place.tagged(Some(&p.id));
            if pids.is_empty() {
                "none"
            } else {
                let pid = pids[rng.below(pids.len())];
                // SAFETY: a process of one of this run's sessions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                "process_sigkill"
            }
        }
        (60..=69, Some(p)) => {
            let _ = place.baton(&["kill", &p.id]);
            "user_kill"
        }
        (70..=79, Some(p)) if p.kind == Kind::Asker => {
            // An answer and a kill at once, the daemon killed during it one time in three.
            let socket = place.socket.clone();
            let id = p.id.clone();
            let answer = std::thread::spawn(move || {
                Command::new(baton())
                    .args(["send", &id, "y"])
                    .env("BATON_SOCKET", socket)
                    .output()
            });
            let _ = place.baton(&["kill", &p.id]);
            let _ = answer.join();
            if rng.chance(33) {
                place.kill9_daemon();
                place.start_daemon();
            }
            "answer_and_kill"
        }
        (80..=86, _) => {
            let servers: Vec<String> = place
                .records()
                .iter()
                .filter_map(|r| r["tmux"]["server"].as_str().map(str::to_owned))
                .collect();
            // The server here, or the one on the remote host (same name,
            // the host's TMUX_TMPDIR).
            let remote = place.host.as_ref().filter(|_| rng.chance(50));
            match servers.first() {
                Some(server) => {
                    let mut tmux = Command::new("tmux");
                    tmux.args(["-L", server, "kill-server"]).env_remove("TMUX");
                    if let Some(host) = remote {
                        tmux.env("TMUX_TMPDIR", host.tmux_dir());
                    }
                    let _ = tmux.output();
                    if remote.is_some() {
                        "remote_tmux_server_killed"
                    } else {
                        "tmux_server_killed"
                    }
                }
                None => "none",
            }
        }
        (87..=93, _) if place.host.is_some() => {
            // The remote host's link cut, silently, for 0.5 to 4 s (beyond
            // the host's remote_timeout one time in three or so), the daemon
            // killed and restarted during the cut one time in four.
            let cut = Duration::from_millis(500 + rng.below(3500) as u64);
            let restart = rng.chance(25);
            let host = place.host.as_ref().expect("a host");
            host.cut_link();
            let started = Instant::now();
            if restart {
                std::thread::sleep(cut / 3);
                place.kill9_daemon();
                place.start_daemon();
            }
            std::thread::sleep(cut.saturating_sub(started.elapsed()));
            place.host.as_ref().expect("a host").restore_link();
            if restart {
                "remote_link_cut_daemon_sigkill"
            } else {
                "remote_link_cut"
            }
        }
        (_, Some(p)) => {
            // Spawn under way: a new session and the daemon killed at once.
            let extra = Planned {
                id: format!("{}-x{}", p.id, rng.below(1000)),
                kind: Kind::Writer,
                backend: "pipes",
            };
            let socket = place.socket.clone();
            let steps = extra.kind.steps(place.dir.path(), &extra.id);
            let tag = format!("CHAOS_TAG={}", place.tag);
            let id = extra.id.clone();
            let spawner = std::thread::spawn(move || {
                let mut cmd = Command::new(baton());
                cmd.args(["spawn", "--id", &id, "--env", &tag, "--"])
                    .arg(stand_in())
                    .args(steps)
                    .env("BATON_SOCKET", socket);
                cmd.output()
            });
            std::thread::sleep(Duration::from_millis(rng.below(30) as u64));
            place.kill9_daemon();
            let _ = spawner.join();
            place.start_daemon();
            "daemon_sigkill_during_spawn"
        }
        _ => "none",
    };
    *figures.faults.entry(fault).or_default() += 1;
}

/// Every promise, after a round; what is broken, in words.
fn check(
    place: &Place,
    kinds: &HashMap<String, (Kind, &'static str)>,
    figures: &mut Figures,
) -> Vec<String> {
    let mut broken = Vec::new();
    let mut count = |what: &'static str| *figures.checks.entry(what).or_default() += 1;
    let records = place.records();
    // seq: dense, from 1, never reused.
    count("seq_dense");
    for (i, r) in records.iter().enumerate() {
        if r["seq"].as_u64() != Some(i as u64 + 1) {
            broken.push(format!("record {} has seq {}", i + 1, r["seq"]));
            break;
        }
    }
    let rows = place.ps();
    count("daemon_answers");
    if rows.is_empty() && !kinds.is_empty() {
        broken.push("the daemon does not answer ps".into());
    }
    let replay = place.baton(&[
        "replay",
        &place.logs.join("events.jsonl").display().to_string(),
        "--json",
    ]);
    let replayed: Vec<Value> = serde_json::from_slice(&replay.stdout).unwrap_or_default();
    for (id, (kind, backend)) in kinds {
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| r["session"] == id.as_str())
            .collect();
        // The state its history implies.
        count("state_matches_history");
        let shown = rows
            .iter()
            .find(|r| r["id"] == id.as_str())
            .map(|r| r["state"].clone());
        let logged = replayed
            .iter()
            .find(|r| r["id"] == id.as_str())
            .map(|r| r["state"].clone());
        if shown != logged {
            broken.push(format!("{id}: ps says {shown:?}, its history {logged:?}"));
        }
        if !shown.as_ref().and_then(Value::as_str).is_some_and(terminal) {
            broken.push(format!("{id} did not end: {shown:?}"));
        }
        // Each attempt spawned once.
        count("no_run_started_twice");
        let attempts: Vec<u64> = mine
            .iter()
            .filter(|r| r["event"] == "spawn")
            .filter_map(|r| r["attempt"].as_u64())
            .collect();
        if attempts.windows(2).any(|w| w[1] <= w[0]) {
            broken.push(format!("{id}: spawn attempts {attempts:?}"));
        }
        // Every byte once, in order: each run's slice is a prefix of what
        // the agent writes, and all of it when the run exited 0.
        count("bytes_once_in_order");
        // The whole output, across its segments.
        let log =
            baton_core::seglog::read_from(&place.logs.join(format!("{id}.out.log")), 0, u64::MAX)
                .unwrap_or_default();
        let mut runs: Vec<(u64, Option<i64>)> = Vec::new();
        for r in &mine {
            if r["event"] == "spawn" {
                runs.push((r["out_offset"].as_u64().unwrap_or(0), None));
            } else if r["event"] == "exit"
                && let Some(last) = runs.last_mut()
            {
                last.1 = r["code"].as_i64();
            }
        }
        let expected = kind.expected();
        for (i, (start, code)) in runs.iter().enumerate() {
            let end = runs.get(i + 1).map_or(log.len() as u64, |n| n.0);
            let slice = log
                .get(*start as usize..end as usize)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| {
                    format!("<offsets {start}..{end} outside a log of {}>", log.len())
                });
            let slice = if *backend == "pipes" {
                slice
            } else {
                slice.replace('\r', "")
            };
            if !expected.starts_with(&slice) {
                broken.push(format!(
                    "{id} run {}: its log slice is not what it wrote: {slice:?}",
                    i + 1
                ));
            } else if *code == Some(0) && slice != expected {
                broken.push(format!(
                    "{id} run {} exited 0 but its log slice is short: {slice:?}",
                    i + 1
                ));
            }
        }
    }
    // Nothing left of ended sessions.
    count("no_orphan_process");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = place.tagged(None);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = place.tagged(None);
    }
    if !left.is_empty() {
        let what: Vec<String> = left
            .iter()
            .map(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let session = env
                    .split(|b| *b == 0)
                    .find_map(|v| v.strip_prefix(b"BATON_SESSION_ID="))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(')')
                            .map(|(_, r)| r.split_whitespace().nth(1).unwrap_or("").to_owned())
                    })
                    .unwrap_or_default();
                format!(
                    "{pid} (parent {ppid}) of {session} {:?}: {}",
                    kinds.get(&session),
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                )
            })
            .collect();
        broken.push(format!("processes outlived their sessions: {what:?}"));
    }
    // No lease held by a session that ended.
    count("no_lease_held");
    let accounts = place.baton(&["accounts", &place.config.display().to_string(), "--json"]);
    let accounts: Value = serde_json::from_slice(&accounts.stdout).unwrap_or(Value::Null);
    for a in accounts["accounts"].as_array().into_iter().flatten() {
        if !a["busy"].is_null() {
            broken.push(format!("account {} still leased: {}", a["id"], a["busy"]));
        }
    }
    broken
}

fn run_rounds(seed: u64, rounds: Option<u32>, until: Option<Instant>) -> Figures {
    let mut rng = Rng(seed | 1);
    let mut place = Place::new(seed);
    let mut figures = Figures::default();
    let mut round = 0;
    loop {
        round += 1;
        if rounds.is_some_and(|n| round > n) || until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        let plan: Vec<Planned> = (0..SESSIONS)
            .map(|k| {
                let kind = match KINDS[rng.below(KINDS.len())] {
                    Kind::Remote if place.host.is_none() => Kind::Writer,
                    kind => kind,
                };
                let backend = match kind {
                    Kind::Asker | Kind::Closer => "pipes",
                    Kind::Remote => "remote",
                    _ => ["pipes", "pipes", "pty", "tmux"][rng.below(4)],
                };
                Planned {
                    id: format!("r{round}-{k}"),
                    kind,
                    backend,
                }
            })
            .collect();
        for p in &plan {
            let out = place.spawn(p);
            assert!(
                out.status.success(),
                "spawn {}: {}",
                p.id,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        figures.sessions += plan.len() as u32;
        for _ in 0..STEPS {
            std::thread::sleep(STEP);
            if rng.chance(60) {
                inject(&mut place, &mut rng, &plan, &mut figures);
            }
        }
        // Let the round end: askers are answered, everything else ends by itself.
        let deadline = Instant::now() + SETTLE;
        loop {
            let rows = place.ps();
            let mut open = false;
            for p in &plan {
                let row = rows.iter().find(|r| r["id"] == p.id.as_str());
                match row.and_then(|r| r["state"].as_str()) {
                    Some("input_wait") => {
                        let _ = place.baton(&["send", &p.id, "y", "--if-waiting"]);
                        open = true;
                    }
                    Some(s) if terminal(s) => {}
                    _ => open = true,
                }
            }
            if !open || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The extra sessions the spawn-during-crash faults made count too.
        let mut kinds: HashMap<String, (Kind, &'static str)> = plan
            .iter()
            .map(|p| (p.id.clone(), (p.kind, p.backend)))
            .collect();
        for r in place.ps() {
            let id = r["id"].as_str().unwrap_or_default();
            if let Some(base) = id.split_once("-x").map(|(b, _)| b)
                && kinds.contains_key(base)
                && id.starts_with(&format!("r{round}-"))
            {
                kinds.insert(id.to_owned(), (Kind::Writer, "pipes"));
            }
        }
        // An extra that did not end waits like the others (same deadline).
        while kinds
            .keys()
            .any(|id| !state_of(&place, id).is_some_and(|s| terminal(&s)))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        if std::env::var_os("BATON_CHAOS_VERBOSE").is_some() {
            eprintln!("round {round}: faults {:?}", figures.faults);
            for r in place.ps() {
                eprintln!("  {} {} {}", r["id"], r["state"], r["reason"]);
            }
        }
        let broken = check(&place, &kinds, &mut figures);
        figures.rounds += 1;
        if !broken.is_empty() {
            let tail: Vec<String> = place
                .records()
                .iter()
                .rev()
                .take(40)
                .map(Value::to_string)
                .collect();
            panic!(
                "chaos round {round} broke a promise (replay with BATON_CHAOS_SEED={seed}):\n- {}\n\
                 faults so far: {:?}\nlast records (newest first):\n{}\ndaemon log:\n{}",
                broken.join("\n- "),
                figures.faults,
                tail.join("\n"),
                place.daemon_log()
            );
        }
    }
    figures
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn faults_at_random_never_break_a_promise() {
    let seed = env_number("BATON_CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!("chaos seed {seed} (replay with BATON_CHAOS_SEED={seed})");
    let minutes = env_number("BATON_CHAOS_MINUTES");
    let rounds = env_number("BATON_CHAOS_ROUNDS")
        .map(|n| n as u32)
        .or(if minutes.is_some() {
            None
        } else {
            Some(SHORT_ROUNDS)
        });
    let until = minutes.map(|m| Instant::now() + Duration::from_secs(m * 60));
    let started = Instant::now();
    let figures = run_rounds(seed, rounds, until);
    eprintln!(
        "chaos: {:.1} minutes, {} rounds, {} sessions, {} faults, {} invariant checks, seed {seed}\n\
         faults: {:?}\ninvariant checks: {:?}",
        started.elapsed().as_secs_f64() / 60.0,
        figures.rounds,
        figures.sessions,
        figures
            .faults
            .iter()
            .filter(|(kind, _)| **kind != "none")
            .map(|(_, n)| n)
            .sum::<u32>(),
        figures.checks.values().sum::<u32>(),
        figures.faults,
        figures.checks
    );
    assert!(figures.rounds > 0);
}
