//! Remote supervision: what one multiplexed ssh connection per
//! host saves on a probe, and what the conductor pays to supervise many
//! sessions on two hosts at once.
//!
//! The hosts are network namespaces of this machine with their own sshd
//! (`baton-testhost`): real TCP, key exchanges, logins and tmux, but the
//! "remote" side runs on the same CPUs, so its work shows in the machine's
//! figures, not in the conductor's. They need root, `ip netns`, nft, sshd
//! and tmux; without them the figure is not measured. Everything started
//! here is ended before `measure` returns, on error too: conductors shut
//! down, ssh masters closed, namespaces removed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use baton_config::{Backend, HOST_ANY, HostConfig, ProbeConfig};
use baton_core::SessionState;
use baton_core::eventlog::Event;
use baton_core::proc::TmuxServer;
use baton_core::proc::ssh::SshHost;
use baton_testhost::NetnsHost;
use stand_in_agent::monotonic_ns;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT, steps};
use crate::Fallible;
use crate::harness::{Harness, ms_between};
use crate::report::{Row, Target};
use crate::stats::percentile;
use crate::sys::{
    ProcStat, all_pids, cpu_time_children, cpu_time_self, machine_busy, pid_exists, proc_cmdline,
    proc_comm, release_free_memory, rss_kib,
};

/// How big the figure is.
pub struct RemotePlan {
    /// Sessions supervised at once, spread over the two hosts.
    pub sessions: usize,
    /// Timed calls per probe series.
    pub probes: usize,
    /// The idle window over which CPU is read.
    pub window: Duration,
}

/// The probe: baton's L0 question to a tmux server that does not exist, so
/// that the answer (exit status 1) costs the host no server start.
const PROBE: [&str; 6] = [
    "tmux",
    "-L",
    "baton-bench-probe",
    "has-session",
    "-t",
    "=none",
];

/// Calls before each timed series, not counted: the first one on the
/// multiplexed side starts the master.
const WARMUP: usize = 3;

/// Runs of the login shell per variant.
const SHELL_RUNS: usize = 10;

/// How long one local helper (`tmux list-sessions`, the login shell) may take.
const HELPER_LIMIT: Duration = Duration::from_secs(10);

/// Time after the last `healthy` before the idle window opens: remote
/// spawns end with ssh calls still settling (and output fetches speeding
/// down), local ones with log commits.
const SETTLE: Duration = Duration::from_secs(2);

/// Samples of the local ssh processes after the window, and their spacing.
const SSH_SAMPLES: usize = 5;
const SSH_SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// How long after shutdown sessions, processes and ssh connections may
/// take to disappear before they are reported as left behind.
const LEFTOVER_LIMIT: Duration = Duration::from_secs(10);

/// The `PATH` sshd gives a login (OpenSSH's default for root).
const SSHD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Measures the probe round trip over a multiplexed and a fresh connection,
/// then `plan.sessions` sessions on two namespace hosts against as many
/// local tmux sessions.
pub async fn measure(ctx: &Ctx, plan: &RemotePlan) -> Fallible<Outcome> {
    let hosts = Hosts::start().await?;
    let namespaces = [
        hosts.a.namespace().to_owned(),
        hosts.b.namespace().to_owned(),
    ];
    let measured = run(ctx, plan, &hosts).await;
    // The hosts go even when the measurement failed; its error comes first.
    let left = hosts.stop().await;
    let mut out = measured?;
    let left = left?;
    if left.is_empty() {
        out.notes.push(format!(
            "remote: namespaces {} removed afterwards (`ip netns list`)",
            namespaces.join(", ")
        ));
    } else {
        out.notes.push(format!(
            "remote: WARNING namespaces still listed after the hosts were dropped: {}",
            left.join(", ")
        ));
    }
    Ok(out)
}

async fn run(ctx: &Ctx, plan: &RemotePlan, hosts: &Hosts) -> Fallible<Outcome> {
    let n = plan.sessions;
    let probes = probe_round_trips(&hosts.a, plan.probes).await?;
    let shell = shell_startup(&hosts.a.host_config("a")).await?;
    let local = supervise(ctx, None, n, plan.window).await?;
    let remote = supervise(ctx, Some(hosts), n, plan.window).await?;

    let p = |samples: &[f64], pct: f64, what: &str| -> Fallible<f64> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        percentile(&sorted, pct).ok_or_else(|| format!("no {what} samples").into())
    };
    let (mux50, mux90) = (
        p(&probes.mux, 50.0, "probe")?,
        p(&probes.mux, 90.0, "probe")?,
    );
    let (fresh50, fresh90) = (
        p(&probes.fresh, 50.0, "probe")?,
        p(&probes.fresh, 90.0, "probe")?,
    );
    let (true_mux50, true_mux90) = (
        p(&probes.mux_true, 50.0, "`true`")?,
        p(&probes.mux_true, 90.0, "`true`")?,
    );
    let (true_fresh50, true_fresh90) = (
        p(&probes.fresh_true, 50.0, "`true`")?,
        p(&probes.fresh_true, 90.0, "`true`")?,
    );
    let per_session_us = |cpu: f64| cpu / n as f64 * 1e6;
    let rows = vec![
        Row::new(
            "remote probe, multiplexed (ms)",
            mux50,
            Some(fresh50),
            Target::None,
        ),
        Row::new(
            "remote probe, multiplexed p90 (ms)",
            mux90,
            Some(fresh90),
            Target::None,
        ),
        Row::new(
            "remote `true`, multiplexed (ms)",
            true_mux50,
            Some(true_fresh50),
            Target::None,
        ),
        Row::new(
            format!("remote spawn to healthy, {n} sessions (sessions/s)"),
            remote.spawn_rate(n),
            Some(local.spawn_rate(n)),
            Target::None,
        ),
        Row::new(
            format!("remote idle CPU, {n} sessions (CPU s/s)"),
            remote.cpu_self,
            Some(local.cpu_self),
            Target::None,
        ),
        Row::new(
            format!("remote idle CPU per session, {n} (us/s)"),
            per_session_us(remote.cpu_self),
            Some(per_session_us(local.cpu_self)),
            Target::None,
        ),
        Row::new(
            format!("remote idle CPU per session + ssh, {n} (us/s)"),
            per_session_us(remote.cpu_with_helpers()),
            Some(per_session_us(local.cpu_with_helpers())),
            Target::None,
        ),
        Row::new(
            format!("remote RSS per session, {n} (KiB)"),
            remote.rss_growth_kib as f64 / n as f64,
            Some(local.rss_growth_kib as f64 / n as f64),
            Target::None,
        ),
    ];

    let mut notes = vec![format!(
        "remote: probe = `{}` (no such server: exit 1, the expected answer, checked on every \
         call) via SshHost::run_status on namespace host a ({}, its own sshd behind a veth \
         pair); {} timed calls per side, interleaved, after {WARMUP} unmeasured each; \
         multiplexed = through the host's ControlMaster (pid {}, started by the warm-up); \
         baseline = without_multiplexing(): a new TCP connection, key exchange and login per \
         call. Same for `true`: multiplexed p50 {true_mux50:.1} / p90 {true_mux90:.1} ms, \
         fresh p50 {true_fresh50:.1} / p90 {true_fresh90:.1} ms",
        PROBE.join(" "),
        hosts.a.address(),
        plan.probes,
        probes.master_pid,
    )];
    if let Some(s) = &shell {
        let extra = s.with_rc_ms - s.without_rc_ms;
        let cause = if s.pyenv {
            " (this machine's ~/.bashrc runs `pyenv init`)"
        } else {
            ""
        };
        notes.push(format!(
            "remote: every call, multiplexed or not, runs through the login shell of `{}` on \
             the host, which is this machine's {}: `{} -c true` started as sshd starts it \
             (SSH_CLIENT set, which makes bash read ~/.bashrc) takes {:.1} ms (median of \
             {SHELL_RUNS}) against {:.1} ms without SSH_CLIENT, so the shell's startup files \
             add about {extra:.0} ms to each remote call here{cause}",
            s.user, s.shell, s.shell, s.with_rc_ms, s.without_rc_ms
        ));
    }
    notes.push(format!(
        "remote: {n} stand-in sessions (`print:up sleep:600s`, backend tmux, host = \"any\") \
         on namespace hosts a and b (max_sessions = {n} each; placed {}), under one library \
         Conductor (remote_timeout {} s, stall_after 1 h); baseline = the same conductor setup \
         with {n} local tmux sessions. Spawn rate = {n} / (first spawn call to last `healthy` \
         event): remote {:.0} ms, local {:.0} ms",
        remote.placement_text(),
        baton_config::DEFAULT_REMOTE_TIMEOUT.as_secs(),
        remote.healthy_ms,
        local.healthy_ms,
    ));
    notes.push(format!(
        "remote: idle CPU = getrusage(RUSAGE_SELF) of the bench process (conductor + \
         subscriber, all threads) over a {} s window opened {} s after the last `healthy`; \
         us/s = CPU microseconds per second per session; `+ ssh` adds the processes the \
         conductor runs on this machine: its waited-for children (ssh calls: {:.4} CPU s/s \
         remote, {:.4} local) and the ssh processes alive through the window (masters and \
         streams if any, from /proc: {:.4} CPU s/s); agents, tmux servers and the hosts' sshd and \
         shells are not counted. The whole machine (hosts included, as they run here) was \
         busy {:.3} CPU s/s in the remote window against {:.3} in the local one",
        plan.window.as_secs_f64(),
        SETTLE.as_secs_f64(),
        remote.cpu_children,
        local.cpu_children,
        remote.cpu_ssh,
        remote.machine_busy,
        local.machine_busy,
    ));
    notes.push(format!(
        "remote: RSS = VmRSS of the bench process before spawning (after malloc_trim) and with \
         all healthy: remote {} -> {} KiB, local {} -> {} KiB",
        remote.rss_before_kib,
        remote.rss_before_kib as i64 + remote.rss_growth_kib,
        local.rss_before_kib,
        local.rss_before_kib as i64 + local.rss_growth_kib,
    ));
    notes.push(format!(
        "remote: local ssh processes started by the conductor while supervising {n} remote \
         sessions ({SSH_SAMPLES} samples over {:.0} ms after the window): {} in all ({} \
         detached connection masters, {} of its own children: calls in flight, output \
         streams if any); ssh processes on the whole machine: {}; with {n} local sessions: {}",
        SSH_SAMPLES as f64 * SSH_SAMPLE_EVERY.as_secs_f64() * 1e3,
        remote.ssh.total_text(),
        remote.ssh.masters_text(),
        remote.ssh.children_text(),
        remote.ssh.machine_text(),
        local.ssh.total_text(),
    ));
    for (side, s) in [("remote", &remote), ("local", &local)] {
        if s.leftovers.is_empty() {
            notes.push(format!(
                "remote: {side} side: `shutdown` took {:.0} ms; afterwards {}",
                s.shutdown.as_secs_f64() * 1e3,
                s.clean_text
            ));
        } else {
            notes.push(format!(
                "remote: {side} side: `shutdown` took {:.0} ms; WARNING left behind: {}",
                s.shutdown.as_secs_f64() * 1e3,
                s.leftovers.join("; ")
            ));
        }
    }
    Ok(Outcome { rows, notes })
}

/// Two namespace hosts, `a` and `b`.
struct Hosts {
    a: NetnsHost,
    b: NetnsHost,
}

impl Hosts {
    /// Builds both, or says why this machine cannot.
    async fn start() -> Fallible<Hosts> {
        let built = tokio::task::spawn_blocking(|| -> Result<Hosts, String> {
            if let Some(reason) = unavailable() {
                return Err(format!("no network-namespace hosts here: {reason}"));
            }
            // NetnsHost prints why (as SKIPPED) before it returns None.
            let missing = "a network-namespace host could not be set up (the reason is \
                           printed above)";
            let a = NetnsHost::new().ok_or(missing)?;
            // On failure from here on, `a` is dropped, which removes it.
            let b = NetnsHost::new().ok_or(missing)?;
            Ok(Hosts { a, b })
        })
        .await;
        Ok(joined(built, "setting up the namespace hosts")??)
    }

    /// Drops both (their guards end every process they know of and remove
    /// the namespaces); returns the namespaces `ip netns` still lists.
    async fn stop(self) -> Fallible<Vec<String>> {
        let names = [self.a.namespace().to_owned(), self.b.namespace().to_owned()];
        let left = tokio::task::spawn_blocking(move || {
            drop(self);
            let out = std::process::Command::new("ip")
                .args(["netns", "list"])
                .stderr(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run `ip netns list`: {e}"))?;
            let listed: HashSet<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
                .collect();
            Ok::<_, String>(
                names
                    .into_iter()
                    .filter(|n| listed.contains(n))
                    .collect::<Vec<_>>(),
            )
        })
        .await;
        Ok(joined(left, "removing the namespace hosts")??)
    }

    fn each(&self) -> [(&'static str, &NetnsHost); 2] {
        [("a", &self.a), ("b", &self.b)]
    }
}

/// Why namespace hosts cannot run here, if they cannot (the same needs
/// `NetnsHost::new` checks, so that the report can say which is missing).
fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "it needs root (namespace hosts need CAP_NET_ADMIN, and an unprivileged sshd admits \
             only its own user)"
                .into(),
        );
    }
    for (bin, package) in [
        ("/usr/sbin/sshd", "openssh-server"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
    ] {
        if !Path::new(bin).exists() {
            return Some(format!("{bin} is missing (install {package})"));
        }
    }
    for (argv, what) in [
        (&["ip", "netns", "list"][..], "`ip netns` is unusable"),
        (
            &["nft", "--version"][..],
            "nft is missing (install nftables)",
        ),
        (&["tmux", "-V"][..], "tmux is missing (install tmux)"),
    ] {
        let ok = std::process::Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(what.into());
        }
    }
    None
}

/// A blocking task's result, with a panic turned into an error that quotes it.
fn joined<T>(result: Result<T, tokio::task::JoinError>, what: &str) -> Fallible<T> {
    result.map_err(|e| {
        if !e.is_panic() {
            return format!("{what} was cancelled").into();
        }
        let panic = e.into_panic();
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "(no message)".into());
        format!("{what} failed: {text}").into()
    })
}

/// Milliseconds of each timed call.
struct ProbeTimes {
    mux: Vec<f64>,
    fresh: Vec<f64>,
    mux_true: Vec<f64>,
    fresh_true: Vec<f64>,
    master_pid: u32,
}

/// Times `n` probes and `n` `true`s on `host`, over its master and over a
/// fresh connection each, interleaved so that drift hits both sides alike.
async fn probe_round_trips(host: &NetnsHost, n: usize) -> Fallible<ProbeTimes> {
    let mux = host.ssh_host("a");
    let fresh = host.ssh_host("a").without_multiplexing();
    let timed = async {
        for _ in 0..WARMUP {
            call(&mux, &PROBE, 1).await?;
            call(&fresh, &PROBE, 1).await?;
        }
        let master_pid = mux
            .master_pid()
            .await
            .ok_or("no ssh master is running after the multiplexed warm-up calls")?;
        let mut t = ProbeTimes {
            mux: Vec::with_capacity(n),
            fresh: Vec::with_capacity(n),
            mux_true: Vec::with_capacity(n),
            fresh_true: Vec::with_capacity(n),
            master_pid,
        };
        for _ in 0..n {
            t.mux.push(call(&mux, &PROBE, 1).await?);
            t.fresh.push(call(&fresh, &PROBE, 1).await?);
            t.mux_true.push(call(&mux, &["true"], 0).await?);
            t.fresh_true.push(call(&fresh, &["true"], 0).await?);
        }
        if mux.master_pid().await != Some(master_pid) {
            return Err("the ssh master changed during the multiplexed series".into());
        }
        Ok(t)
    }
    .await;
    mux.close().await;
    timed
}

/// Milliseconds of one call of `words`, which must exit with `expect`.
async fn call(host: &SshHost, words: &[&str], expect: i32) -> Fallible<f64> {
    let started = std::time::Instant::now();
    let (status, _, stderr) = host
        .run_status(words)
        .await
        .map_err(|e| format!("`{}`: {e}", words.join(" ")))?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if status != expect {
        return Err(format!(
            "`{}` on host {} exited with {status}, expected {expect}: {}",
            words.join(" "),
            host.name(),
            stderr.trim()
        )
        .into());
    }
    Ok(ms)
}

/// What the remote login shell costs before it runs anything.
struct ShellStartup {
    user: String,
    shell: String,
    with_rc_ms: f64,
    without_rc_ms: f64,
    pyenv: bool,
}

/// Times the host user's login shell running `true` locally, started as
/// sshd starts it and without the variable that makes bash read
/// ~/.bashrc. The namespace hosts share this machine's users and files,
/// so this is the shell every remote call goes through. `None` when the
/// user is not in this machine's /etc/passwd.
async fn shell_startup(host: &HostConfig) -> Fallible<Option<ShellStartup>> {
    let user = host.user.clone().unwrap_or_else(|| "root".into());
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| format!("cannot read /etc/passwd: {e}"))?;
    let Some((home, shell)) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == user).then(|| (f[5].to_owned(), f[6].to_owned()))
    }) else {
        return Ok(None);
    };
    let login = Login {
        shell: &shell,
        home: &home,
        user: &user,
    };
    let (mut with_rc, mut without_rc) = (Vec::new(), Vec::new());
    for _ in 0..SHELL_RUNS {
        with_rc.push(login.time_true(true).await?);
        without_rc.push(login.time_true(false).await?);
    }
    with_rc.sort_by(f64::total_cmp);
    without_rc.sort_by(f64::total_cmp);
    let pyenv = std::fs::read_to_string(Path::new(&home).join(".bashrc"))
        .is_ok_and(|rc| rc.contains("pyenv init"));
    Ok(Some(ShellStartup {
        with_rc_ms: percentile(&with_rc, 50.0).unwrap_or(0.0),
        without_rc_ms: percentile(&without_rc, 50.0).unwrap_or(0.0),
        user,
        shell,
        pyenv,
    }))
}

/// A user's login shell, started as sshd starts it.
struct Login<'a> {
    shell: &'a str,
    home: &'a str,
    user: &'a str,
}

impl Login<'_> {
    /// Milliseconds of `shell -c true` in sshd's environment, with the
    /// `SSH_*` variables (`ssh`) or without them.
    async fn time_true(&self, ssh: bool) -> Fallible<f64> {
        let mut cmd = tokio::process::Command::new(self.shell);
        cmd.args(["-c", "true"])
            .env_clear()
            .env("HOME", self.home)
            .env("USER", self.user)
            .env("LOGNAME", self.user)
            .env("SHELL", self.shell)
            .env("PATH", SSHD_PATH)
            .current_dir(self.home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if ssh {
            // bash only checks that one of them is set; the values are
            // what a login from the root side of a namespace host gets.
            cmd.env("SSH_CLIENT", "10.200.1.1 40000 22")
                .env("SSH_CONNECTION", "10.200.1.1 40000 10.200.1.2 22");
        }
        let started = std::time::Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.shell))?;
        let status = tokio::time::timeout(HELPER_LIMIT, child.wait())
            .await
            .map_err(|_| format!("`{} -c true` took longer than {HELPER_LIMIT:?}", self.shell))?
            .map_err(|e| format!("waiting for {}: {e}", self.shell))?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            return Err(format!("`{} -c true` failed: {status}", self.shell).into());
        }
        Ok(ms)
    }
}

/// One conductor supervising sessions, local or on the two hosts.
struct Supervised {
    /// First spawn call to the last `healthy` event.
    healthy_ms: f64,
    /// CPU s/s of the bench process over the window.
    cpu_self: f64,
    /// CPU s/s of its children that ended and were waited for in the window.
    cpu_children: f64,
    /// CPU s/s of the conductor's ssh processes alive through the window.
    cpu_ssh: f64,
    /// CPU s/s of the whole machine.
    machine_busy: f64,
    rss_before_kib: u64,
    rss_growth_kib: i64,
    ssh: SshCounts,
    /// Sessions per host (`local` for this machine).
    placement: BTreeMap<String, usize>,
    shutdown: Duration,
    /// What was still there after shutdown (empty: nothing).
    leftovers: Vec<String>,
    /// What was checked to be gone.
    clean_text: String,
}

impl Supervised {
    fn spawn_rate(&self, n: usize) -> f64 {
        n as f64 / (self.healthy_ms / 1e3)
    }

    fn cpu_with_helpers(&self) -> f64 {
        self.cpu_self + self.cpu_children + self.cpu_ssh
    }

    fn placement_text(&self) -> String {
        let parts: Vec<String> = self
            .placement
            .iter()
            .map(|(host, count)| format!("{host}: {count}"))
            .collect();
        parts.join(", ")
    }
}

/// Starts a conductor with `n` sessions, on `hosts` (placed with `host =
/// "any"`) or on this machine, waits until all are healthy, reads its cost
/// over `window`, shuts it down and looks for anything left behind.
async fn supervise(
    ctx: &Ctx,
    hosts: Option<&Hosts>,
    n: usize,
    window: Duration,
) -> Fallible<Supervised> {
    let side = if hosts.is_some() { "remote" } else { "local" };
    let logs_dir = ctx.dir.join(side);
    let probe = ProbeConfig {
        stall_after: Duration::from_secs(3600),
        ..Default::default()
    };
    let inventory: BTreeMap<String, HostConfig> = hosts
        .map(|hosts| {
            hosts
                .each()
                .into_iter()
                .map(|(name, host)| {
                    let config = HostConfig {
                        max_sessions: u32::try_from(n).unwrap_or(u32::MAX).max(1),
                        ..host.host_config(name)
                    };
                    (name.to_owned(), config)
                })
                .collect()
        })
        .unwrap_or_default();
    let server = TmuxServer::for_logs_dir(&logs_dir).name().to_owned();
    let mut h = Harness::start_with_hosts(&logs_dir, probe, ctx, inventory)?;
    let measured = watch(&mut h, hosts.is_some(), n, window, &server).await;
    let stopped = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let m = measured?;
    let shutdown = stopped?;
    let (leftovers, clean_text) = match hosts {
        Some(hosts) => remote_leftovers(hosts, &server, &m.control_dirs).await?,
        None => local_leftovers(&server, &m.pane_pids).await?,
    };
    Ok(Supervised {
        healthy_ms: m.healthy_ms,
        cpu_self: m.cpu_self,
        cpu_children: m.cpu_children,
        cpu_ssh: m.cpu_ssh,
        machine_busy: m.machine_busy,
        rss_before_kib: m.rss_before_kib,
        rss_growth_kib: m.rss_growth_kib,
        ssh: m.ssh,
        placement: m.placement,
        shutdown,
        leftovers,
        clean_text,
    })
}

/// What [`watch`] read while the conductor ran.
struct Watched {
    healthy_ms: f64,
    cpu_self: f64,
    cpu_children: f64,
    cpu_ssh: f64,
    machine_busy: f64,
    rss_before_kib: u64,
    rss_growth_kib: i64,
    ssh: SshCounts,
    placement: BTreeMap<String, usize>,
    pane_pids: Vec<u32>,
    control_dirs: BTreeSet<PathBuf>,
}

async fn watch(
    h: &mut Harness,
    remote: bool,
    n: usize,
    window: Duration,
    server: &str,
) -> Fallible<Watched> {
    let deadline =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(2000) * n as u32;
    release_free_memory();
    let rss_before = rss_kib()?;
    let script = steps(&["print:up", "sleep:600s"]);
    let prefix = if remote { "rem" } else { "loc" };
    let started_ns = monotonic_ns();
    for i in 0..n {
        let mut spec = h.stand_in_spec(&format!("{prefix}-{i:03}"), &script)?;
        spec.backend = Backend::Tmux;
        if remote {
            spec.host = Some(HOST_ANY.into());
        }
        h.spawn_spec(spec).await?;
    }
    let last_ns = wait_healthy(h, n, deadline).await?;
    let healthy_ms = ms_between(last_ns, started_ns);
    tokio::time::sleep(SETTLE).await;

    let rss_with = rss_kib()?;
    // Read outside the window: scanning /proc costs this process CPU.
    let alive: Vec<(u32, Duration)> = conductor_ssh(server)
        .iter()
        .filter_map(|p| Some((p.pid, ProcStat::read(p.pid)?.cpu())))
        .collect();
    let (self0, children0, machine0) = (cpu_time_self()?, cpu_time_children()?, machine_busy()?);
    let wall0 = std::time::Instant::now();
    tokio::time::sleep(window).await;
    let (self1, children1, machine1) = (cpu_time_self()?, cpu_time_children()?, machine_busy()?);
    let wall = wall0.elapsed().as_secs_f64();
    let ssh_cpu: Duration = alive
        .iter()
        .filter_map(|(pid, before)| Some(ProcStat::read(*pid)?.cpu().saturating_sub(*before)))
        .sum();

    let ssh = count_ssh(server).await;
    let table = h.snapshot().await?;
    let unhealthy: Vec<String> = table
        .iter()
        .filter(|s| s.state != SessionState::Healthy)
        .map(|s| format!("{} {} ({})", s.id, s.state, s.reason))
        .collect();
    if !unhealthy.is_empty() {
        return Err(format!(
            "{} of {n} sessions left `healthy` during the idle window: {}",
            unhealthy.len(),
            unhealthy.join(", ")
        )
        .into());
    }
    let mut placement = BTreeMap::new();
    for s in &table {
        *placement.entry(s.host.clone()).or_insert(0) += 1;
    }
    Ok(Watched {
        healthy_ms,
        cpu_self: (self1 - self0).as_secs_f64() / wall,
        cpu_children: (children1 - children0).as_secs_f64() / wall,
        cpu_ssh: ssh_cpu.as_secs_f64() / wall,
        machine_busy: machine1.saturating_sub(machine0).as_secs_f64() / wall,
        rss_before_kib: rss_before,
        rss_growth_kib: rss_with as i64 - rss_before as i64,
        control_dirs: ssh.control_dirs.clone(),
        ssh,
        placement,
        pane_pids: table.iter().filter_map(|s| s.pid).collect(),
    })
}

/// Waits until `n` sessions entered `healthy`; a session that fails or
/// dies first ends the wait with its reason. Returns when (CLOCK_MONOTONIC
/// ns) the last one did.
async fn wait_healthy(h: &mut Harness, n: usize, deadline: Instant) -> Fallible<u128> {
    let mut healthy = HashSet::with_capacity(n);
    let mut spawn_errors = HashMap::new();
    let mut last_ns = 0;
    while healthy.len() < n {
        let waiting = format!("healthy sessions ({} of {n} so far)", healthy.len());
        let r = h.next(deadline, &waiting).await?;
        let id = r.session().unwrap_or("?").to_owned();
        match r.event() {
            Event::SpawnError { message, .. } => {
                spawn_errors.insert(id, message.clone());
            }
            Event::State {
                to: SessionState::Healthy,
                ..
            } if !healthy.contains(&id) => {
                healthy.insert(id);
                last_ns = r.at_ns;
            }
            Event::State {
                to: to @ (SessionState::Failed | SessionState::Dead),
                reason,
                ..
            } => {
                let detail = spawn_errors
                    .get(&id)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Err(format!(
                    "session {id} went {to} ({reason}{detail}) before all {n} were healthy"
                )
                .into());
            }
            _ => {}
        }
    }
    Ok(last_ns)
}

/// An ssh process the conductor started.
struct LocalSsh {
    pid: u32,
    /// A detached ControlMaster (not the conductor's child).
    master: bool,
    /// Its `ControlPath` directory, if it has one.
    control_dir: Option<PathBuf>,
}

/// The ssh processes on this machine whose command line names `server`
/// (every call of the conductor does: its control path and its tmux words).
fn conductor_ssh(server: &str) -> Vec<LocalSsh> {
    let me = std::process::id();
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            if proc_comm(pid)? != "ssh" {
                return None;
            }
            let argv = proc_cmdline(pid)?;
            if !argv.iter().any(|w| w.contains(server)) {
                return None;
            }
            let stat = ProcStat::read(pid)?;
            let control_dir = argv.iter().find_map(|w| {
                let path = w.strip_prefix("ControlPath=")?;
                Path::new(path).parent().map(Path::to_path_buf)
            });
            Some(LocalSsh {
                pid,
                master: stat.ppid != me,
                control_dir,
            })
        })
        .collect()
}

/// Local ssh processes over a few samples: (min, max) of each count.
struct SshCounts {
    total: (usize, usize),
    masters: (usize, usize),
    children: (usize, usize),
    machine: (usize, usize),
    control_dirs: BTreeSet<PathBuf>,
}

fn range_text((lo, hi): (usize, usize)) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

impl SshCounts {
    fn total_text(&self) -> String {
        range_text(self.total)
    }
    fn masters_text(&self) -> String {
        range_text(self.masters)
    }
    fn children_text(&self) -> String {
        range_text(self.children)
    }
    fn machine_text(&self) -> String {
        range_text(self.machine)
    }
}

async fn count_ssh(server: &str) -> SshCounts {
    let widen = |r: &mut (usize, usize), v: usize| *r = (r.0.min(v), r.1.max(v));
    let mut c = SshCounts {
        total: (usize::MAX, 0),
        masters: (usize::MAX, 0),
        children: (usize::MAX, 0),
        machine: (usize::MAX, 0),
        control_dirs: BTreeSet::new(),
    };
    for i in 0..SSH_SAMPLES {
        if i > 0 {
            tokio::time::sleep(SSH_SAMPLE_EVERY).await;
        }
        let ours = conductor_ssh(server);
        let masters = ours.iter().filter(|p| p.master).count();
        widen(&mut c.total, ours.len());
        widen(&mut c.masters, masters);
        widen(&mut c.children, ours.len() - masters);
        let machine = all_pids()
            .into_iter()
            .filter(|pid| proc_comm(*pid).as_deref() == Some("ssh"))
            .count();
        widen(&mut c.machine, machine);
        c.control_dirs
            .extend(ours.into_iter().filter_map(|p| p.control_dir));
    }
    c
}

/// The sessions of tmux server `server` (under `tmpdir` as `TMUX_TMPDIR`,
/// else this process's), none when it is not running.
async fn tmux_sessions(server: &str, tmpdir: Option<&Path>) -> Fallible<Vec<String>> {
    let mut cmd = tokio::process::Command::new("tmux");
    cmd.args(["-L", server, "list-sessions", "-F", "#{session_name}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = tmpdir {
        cmd.env("TMUX_TMPDIR", dir);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run tmux list-sessions: {e}"))?;
    let out = tokio::time::timeout(HELPER_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| format!("tmux list-sessions did not finish within {HELPER_LIMIT:?}"))?
        .map_err(|e| format!("waiting for tmux list-sessions: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("no server running") || err.contains("error connecting") {
        return Ok(Vec::new());
    }
    Err(format!("tmux -L {server} list-sessions failed: {}", err.trim()).into())
}

/// The processes in a host's namespace other than its sshd: the tmux
/// server, the panes' shells and agents, anything they left.
fn namespace_leftovers(host: &NetnsHost) -> Vec<String> {
    let pids = tokio::task::block_in_place(|| host.pids());
    pids.into_iter()
        .filter_map(|pid| {
            let comm = proc_comm(pid)?;
            (!comm.starts_with("sshd")).then(|| format!("{comm} ({pid})"))
        })
        .collect()
}

/// Polls until `check` finds nothing or [`LEFTOVER_LIMIT`] passes; returns
/// what it found last, each item marked as still there after the wait.
async fn settle_leftovers<F, Fut>(mut check: F) -> Fallible<Vec<String>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Fallible<Vec<String>>>,
{
    let deadline = Instant::now() + LEFTOVER_LIMIT;
    loop {
        let left = check().await?;
        if left.is_empty() {
            return Ok(left);
        }
        if Instant::now() >= deadline {
            let after = LEFTOVER_LIMIT.as_secs();
            return Ok(left
                .into_iter()
                .map(|l| format!("{l}, still there {after} s after shutdown"))
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After a remote conductor's shutdown: tmux sessions on either host,
/// processes in their namespaces besides sshd, and the conductor's local
/// ssh processes. Removes the conductor's output directory on the hosts
/// and its emptied control directory here.
async fn remote_leftovers(
    hosts: &Hosts,
    server: &str,
    control_dirs: &BTreeSet<PathBuf>,
) -> Fallible<(Vec<String>, String)> {
    let mut left = settle_leftovers(|| async move {
        let mut left = Vec::new();
        for (name, host) in hosts.each() {
            let sessions = tmux_sessions(server, Some(host.tmux_dir())).await?;
            if !sessions.is_empty() {
                left.push(format!(
                    "host {name}: {} tmux sessions ({})",
                    sessions.len(),
                    sessions.join(" ")
                ));
            }
            let procs = namespace_leftovers(host);
            if !procs.is_empty() {
                left.push(format!("host {name}: processes {}", procs.join(" ")));
            }
        }
        let ssh: Vec<String> = conductor_ssh(server)
            .iter()
            .map(|p| p.pid.to_string())
            .collect();
        if !ssh.is_empty() {
            left.push(format!("local ssh processes {}", ssh.join(" ")));
        }
        Ok(left)
    })
    .await?;
    for (name, host) in hosts.each() {
        // Each run's output file is removed when the run ends; whatever is
        // still there was left by the conductor. (The hosts share this
        // machine's home, so host b usually finds host a's cleanup done.)
        let ssh = host.ssh_host(name).without_multiplexing();
        let script =
            "d=\"$HOME/.baton/$1\"; if [ -d \"$d\" ]; then ls -A \"$d\"; rm -rf \"$d\"; fi";
        let listed = ssh
            .run(&["sh", "-c", script, "sh", server])
            .await
            .map_err(|e| format!("cleaning up on host {name}: {e}"))?;
        let files: Vec<&str> = listed.lines().collect();
        if !files.is_empty() {
            left.push(format!(
                "host {name}: {} files in ~/.baton/{server}, removed by the bench ({})",
                files.len(),
                file_kinds(&files)
            ));
        }
    }
    for dir in control_dirs {
        // Only when empty: the masters removed their sockets as they exited.
        let _ = std::fs::remove_dir(dir);
    }
    Ok((
        left,
        "no tmux session on host a or b, no process but sshd in either namespace, no local ssh \
         process of the conductor"
            .into(),
    ))
}

/// How many of `names` (`<session>.<nonce>.<kind>`) there are of each kind,
/// as `N x *.kind`.
fn file_kinds(names: &[&str]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names {
        let kind = name.splitn(3, '.').nth(2).unwrap_or(name);
        *kinds.entry(kind).or_insert(0) += 1;
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{count} x *.{kind}"))
        .collect();
    parts.join(", ")
}

/// After a local conductor's shutdown: sessions on its tmux server and
/// pane processes still alive.
async fn local_leftovers(server: &str, pane_pids: &[u32]) -> Fallible<(Vec<String>, String)> {
    let left = settle_leftovers(|| async move {
        let mut left = Vec::new();
        let sessions = tmux_sessions(server, None).await?;
        if !sessions.is_empty() {
            left.push(format!("{} local tmux sessions", sessions.len()));
        }
        let alive: Vec<String> = pane_pids
            .iter()
            .filter(|pid| pid_exists(**pid))
            .map(u32::to_string)
            .collect();
        if !alive.is_empty() {
            left.push(format!("pane processes {}", alive.join(" ")));
        }
        Ok(left)
    })
    .await?;
    Ok((
        left,
        format!(
            "no session on its tmux server and none of the {} pane processes alive",
            pane_pids.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds_group_by_what_follows_the_nonce() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (
                &["baton-a.0123.log.piped", "baton-b.4567.log.piped"],
                "2 x *.log.piped",
            ),
            (
                &["baton-a.0123.log", "baton-a.0123.log.piped", "odd"],
                "1 x *.log, 1 x *.log.piped, 1 x *.odd",
            ),
        ];
        for (names, want) in cases {
            assert_eq!(file_kinds(names), *want, "{names:?}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range_text((2, 2)), "2");
        assert_eq!(range_text((2, 5)), "2-5");
    }
}
