//! A conductor under measurement, and the subscriber that timestamps its events.
//!
//! The subscriber runs in its own task and reads CLOCK_MONOTONIC the moment
//! each record arrives, so "received" means what an embedding program would
//! see. It must never fall behind: a lagged subscriber has lost records, and
//! the figure that needed them is reported as not measured.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_config::{ConductorConfig, HostConfig, ProbeConfig, SessionId, SessionSpec};
use baton_core::eventlog::{Event, LoggedEvent};
use baton_core::{Conductor, ConductorOptions, SessionRow, SessionState};
use stand_in_agent::monotonic_ns;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::Fallible;
use crate::figures::Ctx;

/// Environment variable naming the stand-in binary (like `--stand-in`).
pub const STAND_IN_ENV: &str = "BATON_STAND_IN";

/// SIGTERM → SIGKILL grace for benchmark sessions. The stand-in dies on
/// SIGTERM, so this only bounds a shutdown that goes wrong.
const GRACE: Duration = Duration::from_secs(5);

/// Finds the stand-in agent: `--stand-in`, else [`STAND_IN_ENV`], else the
/// `stand-in-agent` next to this executable.
pub fn locate_stand_in(flag: Option<PathBuf>) -> Fallible<PathBuf> {
    let (path, source) = match flag {
        Some(p) => (p, "--stand-in"),
        None => match std::env::var_os(STAND_IN_ENV) {
            Some(p) => (PathBuf::from(p), STAND_IN_ENV),
            None => {
                let exe = std::env::current_exe()
                    .map_err(|e| format!("cannot find this executable's path: {e}"))?;
                (exe.with_file_name("stand-in-agent"), "next to baton-bench")
            }
        },
    };
    if !path.is_file() {
        return Err(format!(
            "stand-in agent not found at {} ({source}); build it with \
             `cargo build --release -p baton-bench -p stand-in-agent`, \
             or point --stand-in / {STAND_IN_ENV} at it",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// One record as the subscriber received it.
pub struct Received {
    /// CLOCK_MONOTONIC (ns) when the subscriber got the record.
    pub at_ns: u128,
    /// The record.
    pub event: Arc<LoggedEvent>,
}

impl Received {
    /// The session the record is about.
    pub fn session(&self) -> Option<&str> {
        self.event.record.session.as_deref()
    }

    /// The event itself.
    pub fn event(&self) -> &Event {
        &self.event.record.event
    }

    /// The session id, if this is a `state` change to `to`.
    pub fn entered(&self, to: SessionState) -> Option<&str> {
        match self.event() {
            Event::State { to: got, .. } if *got == to => self.session(),
            _ => None,
        }
    }
}

enum Pumped {
    Record(Received),
    Lagged(u64),
}

/// A running conductor with a timestamping subscriber.
pub struct Harness {
    conductor: Conductor,
    events: mpsc::UnboundedReceiver<Pumped>,
    pump: JoinHandle<()>,
    logs_dir: PathBuf,
    stand_in: PathBuf,
}

impl Harness {
    /// Starts a conductor logging into `logs_dir` with the given probe
    /// settings, running `ctx`'s stand-in with `ctx`'s fsync policy.
    pub fn start(logs_dir: &Path, probe: ProbeConfig, ctx: &Ctx) -> Fallible<Harness> {
        Harness::start_with_hosts(logs_dir, probe, ctx, BTreeMap::new())
    }

    /// [`Harness::start`] with a hosts inventory, where sessions with a
    /// `host` run.
    pub fn start_with_hosts(
        logs_dir: &Path,
        probe: ProbeConfig,
        ctx: &Ctx,
        hosts: BTreeMap<String, HostConfig>,
    ) -> Fallible<Harness> {
        Harness::start_with(logs_dir, probe, ctx, hosts, Default::default())
    }

    /// [`Harness::start_with_hosts`] with `[agents.*]` settings (e.g. a
    /// stand-in as an agent CLI's binary).
    pub fn start_with(
        logs_dir: &Path,
        probe: ProbeConfig,
        ctx: &Ctx,
        hosts: BTreeMap<String, HostConfig>,
        agents: baton_config::AgentsConfig,
    ) -> Fallible<Harness> {
        Harness::start_full(logs_dir, probe, ctx, hosts, agents, |_| {})
    }

    /// [`Harness::start`] with `[conductor]` settings changed by `tweak`
    /// (e.g. `max_log_size`).
    pub fn start_tweaked(
        logs_dir: &Path,
        probe: ProbeConfig,
        ctx: &Ctx,
        tweak: impl FnOnce(&mut ConductorConfig),
    ) -> Fallible<Harness> {
        Harness::start_full(
            logs_dir,
            probe,
            ctx,
            BTreeMap::new(),
            Default::default(),
            tweak,
        )
    }

    fn start_full(
        logs_dir: &Path,
        probe: ProbeConfig,
        ctx: &Ctx,
        hosts: BTreeMap<String, HostConfig>,
        agents: baton_config::AgentsConfig,
        tweak: impl FnOnce(&mut ConductorConfig),
    ) -> Fallible<Harness> {
        let mut conductor = ConductorConfig {
            logs_dir: logs_dir.to_owned(),
            fsync: ctx.fsync,
            grace: GRACE,
            ..Default::default()
        };
        tweak(&mut conductor);
        let opts = ConductorOptions {
            conductor,
            probe,
            agents,
            base_dir: logs_dir.to_owned(),
            detach: ctx.detach,
            hosts,
            accounts: Default::default(),
            backends: Default::default(),
            pricing: Default::default(),
        };
        let (conductor, rx) = Conductor::start_subscribed(opts)
            .map_err(|e| format!("cannot start conductor in {}: {e}", logs_dir.display()))?;
        let (tx, events) = mpsc::unbounded_channel();
        let pump = tokio::spawn(pump(rx, tx));
        Ok(Harness {
            conductor,
            events,
            pump,
            logs_dir: logs_dir.to_owned(),
            stand_in: ctx.stand_in.clone(),
        })
    }

    /// Spawns a session running the stand-in with `steps`.
    pub async fn spawn(&self, id: &str, steps: &[String]) -> Fallible<()> {
        self.spawn_spec(self.stand_in_spec(id, steps)?).await
    }

    /// A `command` session running the stand-in with `steps`, every other
    /// field at its default, for a caller that changes some before
    /// [`Harness::spawn_spec`].
    pub fn stand_in_spec(&self, id: &str, steps: &[String]) -> Fallible<SessionSpec> {
        let id: SessionId = id.parse()?;
        let mut argv = vec![self.stand_in.to_string_lossy().into_owned()];
        argv.extend(steps.iter().cloned());
        Ok(SessionSpec::command(id, argv))
    }

    /// Spawns `spec`.
    pub async fn spawn_spec(&self, spec: SessionSpec) -> Fallible<()> {
        let id = spec.id.clone();
        self.conductor
            .spawn(spec)
            .await
            .map_err(|e| format!("spawn of session {id} refused: {e}"))?;
        Ok(())
    }

    /// Kills session `id` and waits until its processes are gone.
    pub async fn kill(&self, id: &str) -> Fallible<()> {
        let id: SessionId = id.parse()?;
        self.conductor
            .kill(&id)
            .await
            .map_err(|e| format!("kill of session {id} failed: {e}").into())
    }

    /// The session table now.
    pub async fn snapshot(&self) -> Fallible<Vec<SessionRow>> {
        self.conductor
            .snapshot()
            .await
            .map_err(|e| format!("snapshot failed: {e}").into())
    }

    /// The next record, or an error at `deadline` or if records were lost.
    pub async fn next(&mut self, deadline: Instant, waiting_for: &str) -> Fallible<Received> {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(Pumped::Record(r))) => Ok(r),
            Ok(Some(Pumped::Lagged(n))) => Err(format!(
                "subscriber lagged and lost {n} records while waiting for {waiting_for}"
            )
            .into()),
            Ok(None) => Err(format!("event stream ended while waiting for {waiting_for}").into()),
            Err(_) => Err(format!("timed out waiting for {waiting_for}").into()),
        }
    }

    /// Reads records until `pick` has named `count` distinct sessions; returns
    /// the first value picked for each. Errors at `deadline`.
    pub async fn collect<T>(
        &mut self,
        count: usize,
        deadline: Instant,
        what: &str,
        mut pick: impl FnMut(&Received) -> Option<(String, T)>,
    ) -> Fallible<HashMap<String, T>> {
        let mut found = HashMap::with_capacity(count);
        while found.len() < count {
            let waiting_for = format!("{what} ({} of {count} so far)", found.len());
            let r = self.next(deadline, &waiting_for).await?;
            if let Some((id, value)) = pick(&r) {
                found.entry(id).or_insert(value);
            }
        }
        Ok(found)
    }

    /// Resolves when every session is terminal; errors at `deadline`.
    pub async fn wait_all_terminal(&self, deadline: Instant) -> Fallible<()> {
        tokio::time::timeout_at(deadline, self.conductor.wait_all_terminal())
            .await
            .map_err(|_| "timed out waiting for all sessions to end".into())
    }

    /// Leader pids of every session that has a process now.
    pub async fn pids(&self) -> Fallible<Vec<u32>> {
        let table = self.snapshot().await?;
        Ok(table.iter().filter_map(|s| s.pid).collect())
    }

    /// Path of a session's stdout log.
    pub fn out_log(&self, id: &str) -> PathBuf {
        self.logs_dir.join(format!("{id}.out.log"))
    }

    /// Shuts the conductor down (SIGKILL at once with `force`) and returns how
    /// long that took. A graceful shutdown that misses `limit` is escalated.
    pub async fn shutdown(self, force: bool, limit: Duration) -> Fallible<Duration> {
        let started = std::time::Instant::now();
        let graceful = timeout(limit, self.conductor.shutdown("bench", force)).await;
        let result = match graceful {
            Ok(r) => r.map(|_| ()).map_err(|e| format!("shutdown failed: {e}")),
            Err(_) => {
                let forced = timeout(limit, self.conductor.shutdown("bench", true)).await;
                Err(match forced {
                    Ok(_) => format!("shutdown took longer than {limit:?}; it was forced"),
                    Err(_) => format!("shutdown did not finish even when forced ({limit:?} each)"),
                })
            }
        };
        let took = started.elapsed();
        self.pump.abort();
        result?;
        Ok(took)
    }
}

async fn pump(mut rx: broadcast::Receiver<Arc<LoggedEvent>>, tx: mpsc::UnboundedSender<Pumped>) {
    loop {
        let msg = match rx.recv().await {
            Ok(event) => Pumped::Record(Received {
                at_ns: monotonic_ns(),
                event,
            }),
            Err(broadcast::error::RecvError::Lagged(n)) => Pumped::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Reads the `stamp <ns>` line the stand-in wrote to `path`, waiting until
/// `deadline` for it to appear.
pub async fn read_stamp(path: &Path, deadline: Instant) -> Fallible<u128> {
    loop {
        let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
        if let Some(ns) = parse_stamp(&text) {
            return Ok(ns);
        }
        if Instant::now() >= deadline {
            return Err(format!("no `stamp <ns>` line in {}", path.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the first complete `stamp <ns>` line in `text`.
pub fn parse_stamp(text: &str) -> Option<u128> {
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .find_map(|l| l.trim_end().strip_prefix("stamp ")?.parse().ok())
}

/// Signed difference `a - b` of two CLOCK_MONOTONIC readings, in milliseconds.
pub fn ms_between(a: u128, b: u128) -> f64 {
    (a as i128 - b as i128) as f64 / 1e6
}

/// Deterministic pseudo-random numbers (xorshift64*), so every run and both
/// sides of a comparison see the same workload.
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// A value in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        lo + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_lines() {
        let cases = [
            ("stamp 123\n", Some(123)),
            ("x\nstamp 42\n", Some(42)),
            ("stamp 42", None),
            ("x\n", None),
            ("stamp abc\nstamp 7\n", Some(7)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_stamp(text), want, "{text:?}");
        }
    }

    #[test]
    fn rng_stays_in_range() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let v = rng.range(50, 1000);
            assert!((50..1000).contains(&v));
        }
        assert_eq!(ms_between(3_000_000, 1_000_000), 2.0);
        assert_eq!(ms_between(1_000_000, 3_000_000), -2.0);
    }
}
