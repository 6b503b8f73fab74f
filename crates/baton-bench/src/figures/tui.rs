//! `baton tui`'s own CPU in a real terminal (a tmux pane), against a real
//! daemon: with many live sessions writing output, and with a restart
//! storm; each beside an `events -f` follower of the same daemon over the
//! same window (what any live view has to read).

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use baton_core::SessionState;

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::daemon::Daemon;
use crate::report::{Row, Target};
use crate::sys::ProcStat;

pub async fn measure(ctx: &Ctx, live: usize, storm: usize, window: Duration) -> Fallible<Outcome> {
    let (baton, stand_in, dir) = (ctx.baton.clone(), ctx.stand_in.clone(), ctx.dir.clone());
    let fsync = ctx.fsync.as_str();
    tokio::task::spawn_blocking(move || {
        if Command::new("tmux").arg("-V").output().is_err() {
            return Err("tmux is not installed; the TUI figure needs a terminal".into());
        }
        let stand_in = stand_in.to_string_lossy().into_owned();
        let config = format!(
            "[conductor]\nfsync = \"{fsync}\"\ngrace = \"2s\"\n\n[probe]\nstall_after = \"1h\"\n"
        );
        let live_dir = dir.join("live");
        let mut daemon = Daemon::start(&baton, &live_dir, &config)?;
        for i in 0..live {
            daemon.spawn(
                &format!("live-{i:04}"),
                vec![stand_in.clone(), "lines:1000000:500ms".into()],
            )?;
        }
        let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * live as u32;
        daemon.wait_all_in(live, SessionState::Healthy, deadline)?;
        let quiet = cpu_of_viewers(&baton, daemon.socket(), window)?;
        daemon.check_running()?;
        daemon.shutdown()?;

        let config = format!(
            "[conductor]\nfsync = \"{fsync}\"\ngrace = \"2s\"\nbackoff = \"20ms\"\nbackoff_max = \"50ms\"\nmax_restarts = 1000000\n\n[probe]\nstall_after = \"1h\"\n"
        );
        let storm_dir = dir.join("storm");
        let mut daemon = Daemon::start(&baton, &storm_dir, &config)?;
        for i in 0..storm {
            daemon.spawn(
                &format!("storm-{i:04}"),
                vec![stand_in.clone(), "print:x".into(), "exit:1".into()],
            )?;
        }
        std::thread::sleep(Duration::from_secs(1));
        let stormy = cpu_of_viewers(&baton, daemon.socket(), window)?;
        daemon.check_running()?;
        daemon.shutdown()?;
        let pct = |cpu: Duration| cpu.as_secs_f64() / window.as_secs_f64() * 100.0;
        Ok(Outcome {
            rows: vec![
                Row::new(
                    format!("tui CPU, {live} live sessions (% of a core)"),
                    pct(quiet.tui),
                    Some(pct(quiet.follower)),
                    Target::None,
                ),
                Row::new(
                    format!("tui CPU, {storm} sessions restart-looping (% of a core)"),
                    pct(stormy.tui),
                    Some(pct(stormy.follower)),
                    Target::None,
                ),
            ],
            notes: vec![format!(
                "tui: `baton tui` in a 160x50 tmux pane on a real daemon, CPU (utime+stime from \
                 /proc) over a {:.0} s window; live = {live} sessions each printing a line every \
                 500 ms; storm = {storm} sessions exiting 1 at once, restarted after 20-50 ms, \
                 {} event records in the window; baseline = a `baton events -f --json` follower \
                 of the same daemon over the same window (its output read and counted by the \
                 bench)",
                window.as_secs_f64(),
                stormy.records
            )],
        })
    })
    .await
    .map_err(|e| format!("tui figure panicked: {e}"))?
}

struct Cpu {
    tui: Duration,
    follower: Duration,
    records: u64,
}

/// Runs `baton tui` in a tmux pane and `baton events -f` beside it, and
/// returns the CPU each used over `window`.
fn cpu_of_viewers(baton: &Path, socket: &Path, window: Duration) -> Fallible<Cpu> {
    let server = format!("baton-bench-tui-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&server)
            .args(args)
            .env_remove("TMUX")
            .output()
    };
    let _ = tmux(&["kill-server"]);
    let command = format!("exec {} tui --socket {}", baton.display(), socket.display());
    let started = tmux(&["new-session", "-d", "-x", "160", "-y", "50", &command])?;
    if !started.status.success() {
        return Err(format!(
            "tmux new-session: {}",
            String::from_utf8_lossy(&started.stderr).trim()
        )
        .into());
    }
    let result = (|| {
        let pane = tmux(&["display-message", "-p", "#{pane_pid}"])?;
        let tui: u32 = String::from_utf8_lossy(&pane.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("tmux pane pid: {e}"))?;
        let follower = Follower::start(baton, socket)?;
        // Both have read what was there and are following now.
        std::thread::sleep(Duration::from_secs(1));
        let read = |pid: u32, what: &str| {
            ProcStat::read(pid)
                .map(|s| s.cpu())
                .ok_or_else(|| format!("{what} exited during the window"))
        };
        let (tui0, follower0) = (read(tui, "baton tui")?, read(follower.pid(), "events -f")?);
        let lines0 = follower.lines();
        std::thread::sleep(window);
        let (tui1, follower1) = (read(tui, "baton tui")?, read(follower.pid(), "events -f")?);
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Cpu {
            tui: tui1.saturating_sub(tui0),
            follower: follower1.saturating_sub(follower0),
            records: follower.lines().saturating_sub(lines0),
        })
    })();
    let _ = tmux(&["kill-server"]);
    result
}

/// `baton events -f --json`, its output counted and dropped.
struct Follower {
    child: Child,
    lines: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Follower {
    fn start(baton: &Path, socket: &Path) -> Fallible<Follower> {
        let (child, stdout) = crate::daemon::follow_events(baton, socket)?;
        let lines = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).split(b'\n') {
                if line.is_err() {
                    return;
                }
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(Follower { child, lines })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn lines(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
