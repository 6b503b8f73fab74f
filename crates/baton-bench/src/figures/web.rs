//! `baton web`'s page in headless Chromium against a real daemon holding
//! many sessions: the time to its first full render, the lag from a state
//! record to the page showing it, and the daemon's CPU with the page open.
//! Each beside a baseline from the same run: the table alone (`baton ps
//! --json`), the record reaching an `events -f` follower, the daemon with
//! no page open.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use baton_core::SessionState;

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::daemon::Daemon;
use crate::report::{Row, Target};
use crate::stats::percentile;

/// A percentile of unsorted samples.
fn pct(samples: &[f64], p: f64) -> Fallible<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, p).ok_or_else(|| "no samples".into())
}
use crate::sys::{ProcStat, parse_log_ts, unix_us};

/// The page driver (puppeteer-core), written next to the scratch files.
const DRIVER: &str = include_str!("web_page.mjs");

pub async fn measure(
    ctx: &Ctx,
    sessions: usize,
    changes: usize,
    window: Duration,
) -> Fallible<Outcome> {
    let (baton, stand_in, dir) = (ctx.baton.clone(), ctx.stand_in.clone(), ctx.dir.clone());
    let fsync = ctx.fsync.as_str().to_owned();
    tokio::task::spawn_blocking(move || {
        run(&baton, &stand_in, &dir, &fsync, sessions, changes, window)
    })
    .await
    .map_err(|e| format!("web figure panicked: {e}"))?
}

fn run(
    baton: &Path,
    stand_in: &Path,
    dir: &Path,
    fsync: &str,
    sessions: usize,
    changes: usize,
    window: Duration,
) -> Fallible<Outcome> {
    let tool = |var: &str| {
        std::env::var_os(var).map(PathBuf::from).ok_or_else(|| {
            format!("{var} is not set: the web figure drives Chromium with puppeteer-core (scripts/test.sh installs both and names them)")
        })
    };
    let (puppeteer, chromium) = (tool("BATON_TEST_PUPPETEER")?, tool("BATON_TEST_CHROMIUM")?);
    let config = format!(
        "[conductor]\nfsync = \"{fsync}\"\ngrace = \"2s\"\n\n[probe]\nstall_after = \"1h\"\n"
    );
    let mut daemon = Daemon::start(baton, &dir.join("web"), &config)?;
    let stand_in = stand_in.to_string_lossy().into_owned();
    for i in 0..sessions {
        daemon.spawn(
            &format!("web-{i:04}"),
            vec![stand_in.clone(), "print:ready".into(), "stall".into()],
        )?;
    }
    let deadline =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * sessions as u32;
    daemon.wait_all_in(sessions, SessionState::Healthy, deadline)?;
    let daemon_pid = daemon.pid().ok_or("the daemon has no pid")?;
    let cpu = |pid: u32| {
        ProcStat::read(pid)
            .map(|s| s.cpu())
            .ok_or_else(|| format!("process {pid} exited during the window"))
    };

    // The table alone: what the page needs to draw.
    let mut ps_ms = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(baton)
            .args(["ps", "--json", "--socket"])
            .arg(daemon.socket())
            .output()?;
        if !out.status.success() {
            return Err("baton ps --json failed".into());
        }
        ps_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }

    // The daemon with nobody looking.
    let before = cpu(daemon_pid)?;
    std::thread::sleep(window);
    let alone = cpu(daemon_pid)?.saturating_sub(before);

    let mut web = Web::start(baton, daemon.socket())?;
    let script = dir.join("web_page.mjs");
    std::fs::write(&script, DRIVER)?;
    let mut page = Command::new("node")
        .arg(&script)
        .env("BATON_WEB_URL", &web.url)
        .env("BATON_BENCH_ROWS", sessions.to_string())
        .env("BATON_TEST_PUPPETEER", &puppeteer)
        .env("BATON_TEST_CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let lines = page.stdout.take().ok_or("the page driver has no stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(lines).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(180))
        .map_err(|_| "the page did not list the sessions within 180 s")?;
    let render_ms: f64 = first
        .strip_prefix("render ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the page driver said {first:?}"))?;

    // The daemon with the page open and idle.
    let before = cpu(daemon_pid)?;
    std::thread::sleep(window);
    let watched = cpu(daemon_pid)?.saturating_sub(before);

    // Lag: sessions killed one at a time, each state record's time against
    // the page showing it and an `events -f` follower receiving it.
    let follower = Follower::start(baton, daemon.socket())?;
    std::thread::sleep(Duration::from_millis(500));
    let killed: Vec<String> = (0..changes.min(sessions))
        .map(|i| format!("web-{i:04}"))
        .collect();
    for id in &killed {
        daemon.kill(id)?;
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    drop(page.stdin.take());
    let mut seen: HashMap<String, i64> = HashMap::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let mut words = line.split_whitespace();
        if let (Some("seen"), Some(id), Some(state), Some(at)) =
            (words.next(), words.next(), words.next(), words.next())
            && state == "dead"
            && let Ok(at) = at.parse::<i64>()
        {
            seen.entry(id.to_owned()).or_insert(at * 1000);
        }
    }
    let _ = page.wait();
    let followed = follower.dead_at();
    web.stop();
    let written = dead_records(&daemon.events_path())?;
    daemon.check_running()?;
    daemon.shutdown()?;

    let mut page_lag = Vec::new();
    let mut follower_lag = Vec::new();
    for id in &killed {
        let Some(at) = written.get(id) else {
            return Err(format!("no dead state record of {id}").into());
        };
        let on_page = seen
            .get(id)
            .ok_or_else(|| format!("the page never showed {id} dead"))?;
        page_lag.push((on_page - at) as f64 / 1e3);
        if let Some(got) = followed.get(id) {
            follower_lag.push((got - at) as f64 / 1e3);
        }
    }
    let core = |d: Duration| d.as_secs_f64() / window.as_secs_f64() * 100.0;
    let median_ps = pct(&ps_ms, 50.0)?;
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("page first render, {sessions} sessions (ms)"),
                render_ms,
                Some(median_ps),
                Target::None,
            ),
            Row::new(
                format!("state record -> page, p50 of {} (ms)", page_lag.len()),
                pct(&page_lag, 50.0)?,
                Some(pct(&follower_lag, 50.0)?),
                Target::None,
            ),
            Row::new(
                format!("state record -> page, p99 of {} (ms)", page_lag.len()),
                pct(&page_lag, 99.0)?,
                Some(pct(&follower_lag, 99.0)?),
                Target::None,
            ),
            Row::new(
                "daemon CPU with the page open (% of a core)".to_owned(),
                core(watched),
                Some(core(alone)),
                Target::None,
            ),
        ],
        notes: vec![format!(
            "web: `baton web` on a real daemon holding {sessions} healthy sessions, its page in \
             headless Chromium (puppeteer-core) at 1280x800; render = navigation start -> \
             {sessions} rows drawn, baseline = `baton ps --json` (the table alone, median of 5); \
             lag = a session's `state -> dead` record (its ts) -> the page showing it dead \
             ({changes} kills 200 ms apart), baseline = the same record reaching an `events -f \
             --json` follower; CPU = the daemon's utime+stime over {:.0} s with the page open \
             and idle, baseline = the same window before the page was opened",
            window.as_secs_f64()
        )],
    })
}

/// `baton web` on a free port.
struct Web {
    child: Child,
    url: String,
}

impl Web {
    fn start(baton: &Path, socket: &Path) -> Fallible<Web> {
        let mut child = Command::new(baton)
            .args(["web", "--listen", "127.0.0.1:0", "--socket"])
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut url = String::new();
        BufReader::new(child.stdout.take().ok_or("baton web has no stdout")?)
            .read_line(&mut url)?;
        if !url.starts_with("http://") {
            let _ = child.kill();
            return Err(format!("baton web printed {url:?}").into());
        }
        Ok(Web {
            child,
            url: url.trim().to_owned(),
        })
    }

    fn stop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When each session's `state -> dead` record was written (µs since the
/// epoch, its `ts`).
fn dead_records(events: &Path) -> Fallible<HashMap<String, i64>> {
    let log = baton_core::eventlog::read_log(events)?;
    let mut at = HashMap::new();
    for record in log.records {
        if let (Some(id), baton_core::eventlog::Event::State { to, .. }) =
            (&record.session, &record.event)
            && *to == SessionState::Dead
            && let Some(ts) = parse_log_ts(&record.ts)
        {
            at.insert(id.clone(), ts);
        }
    }
    Ok(at)
}

/// `baton events -f --json`, noting when each `state -> dead` record arrived.
struct Follower {
    child: Child,
    dead: std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

impl Follower {
    fn start(baton: &Path, socket: &Path) -> Fallible<Follower> {
        let (child, stdout) = crate::daemon::follow_events(baton, socket)?;
        let dead = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
        let noted = dead.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let now = unix_us(SystemTime::now());
                let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if record["event"] == "state"
                    && record["to"] == "dead"
                    && let Some(id) = record["session"].as_str()
                    && let Ok(mut dead) = noted.lock()
                {
                    dead.entry(id.to_owned()).or_insert(now);
                }
            }
        });
        Ok(Follower { child, dead })
    }

    fn dead_at(&self) -> HashMap<String, i64> {
        self.dead.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::io::stdout().flush();
    }
}
