//! Process groups: signalling them and knowing when they are empty.

use std::time::Duration;

use tokio::time::Instant;

use super::{Pid, Signal};

/// Sends `signal` to every process in the group `pgid`.
///
/// Returns `Ok(false)` when the group no longer exists (nothing to signal).
pub fn signal_group(pgid: Pid, signal: Signal) -> std::io::Result<bool> {
    let Some(raw) = rustix::process::Pid::from_raw(pgid.0 as i32) else {
        return Ok(false);
    };
    match rustix::process::kill_process_group(raw, signal.to_rustix()) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// True when no live process is left in group `pgid`.
///
/// Zombies count as gone: an orphaned grandchild that has exited waits for
/// PID 1 to reap it, which in containers can take seconds, and it can no
/// longer write to a pipe or hold a resource that matters to us.
pub fn group_is_empty(pgid: Pid) -> bool {
    let Some(raw) = rustix::process::Pid::from_raw(pgid.0 as i32) else {
        return true;
    };
    match rustix::process::test_kill_process_group(raw) {
        Err(rustix::io::Errno::SRCH) => true,
        // The group has members; they may all be zombies, which only /proc tells.
        _ => !group_has_live_member(pgid),
    }
}

/// Scans /proc for a non-zombie process whose process group is `pgid`.
fn group_has_live_member(pgid: Pid) -> bool {
    let Some(pids) = all_pids() else {
        // Without /proc we cannot see zombies; trust kill(2), which said "members exist".
        return true;
    };
    pids.into_iter()
        .filter_map(read_stat)
        .any(|stat| stat.pgrp == pgid.0 && stat.is_live())
}

/// Every pid in /proc; `None` without a readable /proc.
pub(super) fn all_pids() -> Option<Vec<u32>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .collect(),
    )
}

/// The living (not zombie) children of `parent`, from /proc.
pub fn live_children(parent: u32) -> Vec<u32> {
    all_pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|pid| read_stat(*pid).is_some_and(|s| s.ppid == parent && s.is_live()))
        .collect()
}

pub(super) struct Stat {
    state: char,
    ppid: u32,
    pub(super) pgrp: u32,
    /// The foreground process group of the process's terminal; `None`
    /// without a terminal (`-1` in the file).
    pub(super) tpgid: Option<u32>,
    start_time: u64,
}

impl Stat {
    /// Neither a zombie nor dead.
    fn is_live(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// Reads `/proc/PID/stat`: one `open`, one `read` into the stack and a
/// `close` — a sweep reads it for every process of the machine, so no
/// allocation and no second read to find the end. A command name that is
/// not UTF-8 does not hide the process.
pub(super) fn read_stat(pid: u32) -> Option<Stat> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Write;
    let mut path = [0u8; 32];
    let mut at = &mut path[..];
    write!(at, "/proc/{pid}/stat\0").ok()?;
    let len = 32 - at.len();
    let path = std::ffi::CStr::from_bytes_with_nul(&path[..len]).ok()?;
    let file = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    // The line is ~300 bytes; 52 fields of 20 digits would be ~1,100.
    let mut buf = [0u8; 2048];
    let n = rustix::io::read(&file, &mut buf).ok()?;
    parse_stat(&buf[..n])
}

/// Parses `/proc/PID/stat`. The command name (field 2) may contain spaces,
/// parentheses and bytes that are not UTF-8, so fields are counted from the
/// last `)`.
fn parse_stat(line: &[u8]) -> Option<Stat> {
    let close = line.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(&line[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?; // field 3
    let ppid = fields.next()?.parse().ok()?; // 4
    let pgrp = fields.next()?.parse().ok()?; // 5
    let tpgid = fields.nth(2)?.parse::<i64>().ok()?; // 8, after session and tty_nr
    // Field 22 is starttime; we are at field 9 now.
    let start_time = fields.nth(13)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        pgrp,
        tpgid: u32::try_from(tpgid).ok().filter(|g| *g > 0),
        start_time,
    })
}

/// Start time of `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`),
/// or `None` if the process does not exist. A pid plus its start time names a
/// process unambiguously even after the pid number is reused.
pub fn process_start_time(pid: Pid) -> Option<u64> {
    read_stat(pid.0).map(|s| s.start_time)
}

/// Waits until group `pgid` is empty or `deadline` passes; returns whether it is empty.
///
/// There is no kernel notification for "group became empty", so this polls,
/// starting fast (most groups empty within a millisecond of the signal) and
/// backing off to 50 ms.
pub async fn wait_group_empty(pgid: Pid, deadline: Instant) -> bool {
    let mut pause = Duration::from_millis(1);
    loop {
        if group_is_empty(pgid) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_parens_in_name() {
        let line = "1234 (we (ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let stat = parse_stat(line.as_bytes()).expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.pgrp, 1234);
        assert_eq!(stat.tpgid, None);
        assert_eq!(stat.start_time, 987654);
        let on_a_terminal =
            "42 (sh) S 1 42 42 34816 77 4194560 100 0 0 0 0 0 0 0 20 0 1 0 5 1000 10 1";
        let stat = parse_stat(on_a_terminal.as_bytes()).expect("parses");
        assert_eq!((stat.tpgid, stat.start_time), (Some(77), 5));
        // A name that is not UTF-8 (a process may call itself anything).
        let mut odd =
            b"7 (\xff\xfe) Z 1 7 7 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 9 1000 10 1".to_vec();
        let stat = parse_stat(&odd).expect("parses");
        assert_eq!((stat.state, stat.pgrp, stat.start_time), ('Z', 7, 9));
        odd.truncate(40);
        assert!(parse_stat(&odd).is_none(), "a torn line is not a process");
    }

    #[test]
    fn read_stat_reads_what_proc_says() {
        let me = std::process::id();
        let text = std::fs::read(format!("/proc/{me}/stat")).unwrap();
        let (read, parsed) = (read_stat(me).unwrap(), parse_stat(&text).unwrap());
        assert_eq!(
            (
                read.state,
                read.ppid,
                read.pgrp,
                read.tpgid,
                read.start_time
            ),
            (
                parsed.state,
                parsed.ppid,
                parsed.pgrp,
                parsed.tpgid,
                parsed.start_time
            )
        );
        assert!(read_stat(u32::MAX).is_none());
    }

    #[test]
    fn own_process_has_a_start_time() {
        assert!(process_start_time(Pid(std::process::id())).is_some());
        assert!(!group_is_empty(Pid(
            rustix::process::getpgrp().as_raw_nonzero().get() as u32
        )));
    }
}

/// The environment variable that marks every process of one run: baton
/// sets it on the agent, and whatever the agent starts inherits it, also
/// what leaves the run's process group.
pub const RUN_MARK: &str = "BATON_RUN";

/// Leaders of the runs this process started on pipes or a PTY, with their
/// start times (`/proc/PID/stat` field 22). A process in the group of one
/// of them while that very leader lives is a member of a live run, not a
/// stray of one that ended: the sweep does not read its environment (the
/// costly part of a pass — one per process of the machine). Entries whose
/// leader is gone are dropped by the next pass.
static RUN_LEADERS: std::sync::Mutex<std::collections::BTreeMap<u32, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Notes `pid`, started at `start_time`, as the leader of a live run's
/// process group (see [`RUN_LEADERS`]).
pub fn note_run_leader(pid: Pid, start_time: u64) {
    if let Ok(mut leaders) = RUN_LEADERS.lock() {
        leaders.insert(pid.0, start_time);
    }
}

/// One pass over /proc: the live processes of ours (not this one) whose
/// environment carries `RUN_MARK=<token>` for one of `tokens`, with the
/// index of that token. Members of a live run's group are passed over
/// ([`RUN_LEADERS`]).
fn sweep_once(tokens: &[&str]) -> Vec<(i32, usize)> {
    let needles: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| format!("{RUN_MARK}={t}").into_bytes())
        .collect();
    let me = std::process::id();
    let leaders = RUN_LEADERS.lock().map(|l| l.clone()).unwrap_or_default();
    // Whether each leader looked at in this pass is still the process noted.
    let mut live_leader = std::collections::BTreeMap::new();
    let is_noted = |stat: &Stat, start: u64| stat.is_live() && stat.start_time == start;
    let found = all_pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let stat = read_stat(pid)?;
            if let Some(&start) = leaders.get(&pid) {
                // A leader read here is not read again for its members.
                live_leader.entry(pid).or_insert(is_noted(&stat, start));
            }
            if !stat.is_live() {
                return None;
            }
            if let Some(&start) = leaders.get(&stat.pgrp)
                && *live_leader
                    .entry(stat.pgrp)
                    .or_insert_with(|| read_stat(stat.pgrp).is_some_and(|l| is_noted(&l, start)))
            {
                return None;
            }
            // Only our own processes' environments are readable.
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let which = env
                .split(|b| *b == 0)
                .find_map(|v| needles.iter().position(|n| n.as_slice() == v))?;
            Some((pid as i32, which))
        })
        .collect();
    // Forget the leaders that are gone (looked at here, or now).
    if let Ok(mut noted) = RUN_LEADERS.lock() {
        noted.retain(|pid, start| {
            *live_leader
                .entry(*pid)
                .or_insert_with(|| read_stat(*pid).is_some_and(|l| is_noted(&l, *start)))
        });
    }
    found
}

fn signal_strays(pids: &[i32], sig: i32) {
    for pid in pids {
        // SAFETY: kill(2) has no memory-safety preconditions. Its group
        // too: a daemon leads its own, and its helpers are in it.
        unsafe {
            libc::kill(-pid, sig);
            libc::kill(*pid, sig);
        }
    }
}

/// Ends the processes of ours whose environment carries `RUN_MARK=<token>`:
/// what a run left behind after leaving its group (a daemon an agent
/// detached). SIGTERM to each and its group, SIGKILL after `grace` to any
/// still there (`grace` zero: SIGKILL at once, and the answer comes after
/// it). Done from one thread for the whole process: runs that end together share one pass over /proc, so a
/// thousand sessions ending at once do not scan it a thousand times. The
/// answer (how many were found and sent SIGTERM) comes within ~50 ms;
/// SIGKILL follows `grace` later for any that are still there.
pub fn sweep_strays(
    token: String,
    grace: std::time::Duration,
) -> tokio::sync::oneshot::Receiver<usize> {
    use std::sync::{Mutex, OnceLock, mpsc};
    type Job = (
        String,
        std::time::Duration,
        tokio::sync::oneshot::Sender<usize>,
    );
    static SWEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sweeper = SWEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let _ = std::thread::Builder::new()
            .name("baton-strays".into())
            .spawn(move || sweeper(rx));
        Mutex::new(tx)
    });
    if let Ok(tx) = sweeper.lock() {
        let _ = tx.send((token, grace, reply));
    }
    answer
}

fn sweeper(
    rx: std::sync::mpsc::Receiver<(
        String,
        std::time::Duration,
        tokio::sync::oneshot::Sender<usize>,
    )>,
) {
    use std::time::{Duration, Instant};
    // Tokens whose strays got SIGTERM, with when they get SIGKILL.
    let mut dying: Vec<(String, Instant)> = Vec::new();
    loop {
        let wait = dying
            .iter()
            .map(|(_, at)| at.saturating_duration_since(Instant::now()))
            .min()
            .unwrap_or(Duration::from_secs(3600));
        let mut jobs = Vec::new();
        match rx.recv_timeout(wait) {
            Ok(job) => {
                jobs.push(job);
                // Runs that end together come together.
                std::thread::sleep(Duration::from_millis(20));
                jobs.extend(rx.try_iter());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let due: Vec<String> = dying
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(t, _)| t.clone())
            .collect();
        dying.retain(|(_, at)| *at > now);
        let tokens: Vec<&str> = jobs
            .iter()
            .map(|(t, _, _)| t.as_str())
            .chain(due.iter().map(String::as_str))
            .collect();
        if tokens.is_empty() {
            continue;
        }
        let found = sweep_once(&tokens);
        let mut counts = vec![0usize; jobs.len()];
        for (pid, which) in &found {
            if let Some((_, grace, _)) = jobs.get(*which) {
                counts[*which] += 1;
                let sig = if grace.is_zero() {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                };
                signal_strays(&[*pid], sig);
            } else {
                signal_strays(&[*pid], libc::SIGKILL);
            }
        }
        for (i, (token, grace, reply)) in jobs.into_iter().enumerate() {
            if counts[i] > 0 && !grace.is_zero() {
                dying.push((token, now + grace));
            }
            let _ = reply.send(counts[i]);
        }
    }
}

#[cfg(test)]
mod stray_tests {
    use super::*;

    /// Waits (at most 5 s) until `pid` has exec'd into a process whose
    /// environment carries `RUN_MARK=<token>`: before that, /proc shows the
    /// forking parent's environment.
    fn wait_marked(pid: u32, token: &str) {
        let needle = format!("{RUN_MARK}={token}").into_bytes();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if env.split(|b| *b == 0).any(|v| v == needle.as_slice()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("{pid} never carried its mark");
    }

    #[test]
    fn marked_processes_outside_any_group_are_ended_and_others_are_left() {
        use std::os::unix::process::CommandExt;
        let token = format!("test.{}", std::process::id());
        let spawn = |mark: Option<&str>| {
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("60");
            if let Some(mark) = mark {
                cmd.env(RUN_MARK, mark);
            }
            // SAFETY: setsid is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            cmd.spawn().unwrap()
        };
        let mut marked = spawn(Some(&token));
        let mut other = spawn(Some("another.run"));
        let mut plain = spawn(None);
        wait_marked(marked.id(), &token);
        wait_marked(other.id(), "another.run");
        let started = std::time::Instant::now();
        let grace = std::time::Duration::from_secs(2);
        assert_eq!(sweep_strays(token.clone(), grace).blocking_recv(), Ok(1));
        eprintln!("a sweep that found one took {:?}", started.elapsed());
        // The marked one ended; the others run on.
        use std::os::unix::process::ExitStatusExt;
        assert!(marked.wait().unwrap().signal().is_some());
        assert!(other.try_wait().unwrap().is_none());
        assert!(plain.try_wait().unwrap().is_none());
        let started = std::time::Instant::now();
        assert_eq!(sweep_strays(token.clone(), grace).blocking_recv(), Ok(0));
        eprintln!("a scan that finds nothing took {:?}", started.elapsed());
        for child in [&mut other, &mut plain] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// With no grace the sweep kills at once: a stray that would outlast
    /// SIGTERM is gone when the answer comes.
    #[test]
    fn a_sweep_without_grace_kills_at_once() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let token = format!("now.{}", std::process::id());
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "trap '' TERM; while :; do sleep 1; done"])
            .env(RUN_MARK, &token)
            .process_group(0);
        let mut stray = cmd.spawn().unwrap();
        wait_marked(stray.id(), &token);
        let grace = std::time::Duration::ZERO;
        assert!(sweep_strays(token.clone(), grace).blocking_recv().unwrap() >= 1);
        assert_eq!(stray.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    /// A process in the group of a live run's leader is that run's: the
    /// sweep for another run's token passes over it without reading its
    /// environment. Once the leader noted is not the process in its place
    /// (a stale start time), its group is swept like any other.
    #[test]
    fn members_of_a_live_runs_group_are_passed_over() {
        use std::os::unix::process::CommandExt;
        let token = format!("live.{}", std::process::id());
        let spawn = || {
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("60").env(RUN_MARK, &token).process_group(0);
            cmd.spawn().unwrap()
        };
        let grace = std::time::Duration::from_secs(2);
        let mut leader = spawn();
        let pid = Pid(leader.id());
        wait_marked(pid.0, &token);
        let start = process_start_time(pid).unwrap();
        note_run_leader(pid, start);
        // Its own token, yet a live run's member: left alone.
        assert_eq!(sweep_strays(token.clone(), grace).blocking_recv(), Ok(0));
        assert!(leader.try_wait().unwrap().is_none());
        // A leader noted with another start time is not this process.
        note_run_leader(pid, start + 1);
        assert_eq!(sweep_strays(token.clone(), grace).blocking_recv(), Ok(1));
        use std::os::unix::process::ExitStatusExt;
        assert!(leader.wait().unwrap().signal().is_some());
        // The next pass forgets the leader that is gone.
        assert_eq!(sweep_strays(token.clone(), grace).blocking_recv(), Ok(0));
        assert!(!RUN_LEADERS.lock().unwrap().contains_key(&pid.0));
    }
}
