//! `[[notify]]` hooks: a command run, with the `state` record as one JSON
//! line on its stdin, each time a session enters one of the hook's states.
//! A hook narrowed to some `kinds` of `input_wait` runs instead at the
//! `input_wait` record that says the session waits for one of them (its
//! entry, or a change of what it waits for), with that record on stdin and
//! `BATON_WAIT_KIND` set.
//!
//! One run per state entry (the `state` record is written once per
//! transition; probes that find a session still waiting write none). Hooks
//! run on their own tasks, at most [`MAX_RUNNING`] at a time and
//! [`MAX_PER_WINDOW`] per hook per [`WINDOW`]; a hook that fails, hangs or
//! cannot start is logged and changes nothing for any session.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use baton_config::NotifyHook;
use baton_core::Conductor;
use baton_core::eventlog::{Event, LoggedEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// Hook processes running at once, over all hooks.
const MAX_RUNNING: usize = 8;

/// Runs of one hook per [`WINDOW`]; more are dropped, with a warning.
const MAX_PER_WINDOW: usize = 30;
const WINDOW: Duration = Duration::from_secs(60);

/// A hook still running after this is killed.
const HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Stderr of a failed hook quoted in the daemon's log.
const QUOTED: usize = 2048;

/// What a caller keeps of a started notifier, to let its hooks finish.
pub struct Notifications {
    conductor: Conductor,
    progress: Arc<Progress>,
}

/// How far the notifier has got.
#[derive(Default)]
struct Progress {
    /// The last `seq` it has looked at.
    seen: AtomicU64,
    /// Hook runs started and not finished.
    pending: AtomicUsize,
}

impl Notifications {
    /// Waits, at most `limit`, until every record written so far has been
    /// looked at and every hook it started has finished: for `baton run`,
    /// whose last sessions' hooks would otherwise die with it.
    pub async fn drain(self, limit: Duration) {
        let written = self.conductor.last_seq();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let progress = &self.progress;
            if progress.seen.load(Ordering::Acquire) >= written
                && progress.pending.load(Ordering::Acquire) == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(
            "notify hooks still running after {} s; stopping them",
            limit.as_secs()
        );
    }
}

/// Starts the notifier: subscribed now, so that no transition from here on
/// is missed. Nothing runs when there are no hooks.
pub fn start(conductor: &Conductor, hooks: Vec<NotifyHook>) -> Option<Notifications> {
    if hooks.is_empty() {
        return None;
    }
    let records = conductor.subscribe();
    let progress = Arc::new(Progress::default());
    let notifier = Notifier::new(conductor.clone(), hooks, progress.clone());
    tokio::spawn(notifier.run(records));
    Some(Notifications {
        conductor: conductor.clone(),
        progress,
    })
}

struct Notifier {
    conductor: Conductor,
    hooks: Vec<Hook>,
    progress: Arc<Progress>,
    running: Arc<Semaphore>,
    /// Capability tags by session, for hooks with a `capability` filter.
    capabilities: HashMap<String, Vec<String>>,
}

struct Hook {
    spec: Arc<NotifyHook>,
    /// When the current rate window began, and runs in it.
    window: (Instant, usize),
    /// Runs dropped in the current window.
    dropped: usize,
}

impl Notifier {
    fn new(conductor: Conductor, hooks: Vec<NotifyHook>, progress: Arc<Progress>) -> Notifier {
        Notifier {
            conductor,
            progress,
            hooks: hooks
                .into_iter()
                .map(|spec| Hook {
                    spec: Arc::new(spec),
                    window: (Instant::now(), 0),
                    dropped: 0,
                })
                .collect(),
            running: Arc::new(Semaphore::new(MAX_RUNNING)),
            capabilities: HashMap::new(),
        }
    }

    async fn run(mut self, mut records: tokio::sync::broadcast::Receiver<Arc<LoggedEvent>>) {
        loop {
            match records.recv().await {
                Ok(logged) => {
                    let seq = logged.record.seq;
                    self.consider(logged).await;
                    self.progress.seen.fetch_max(seq, Ordering::AcqRel);
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        "notify hooks missed {n} event records (the daemon was too busy); their transitions ran no hook"
                    );
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    async fn consider(&mut self, logged: Arc<LoggedEvent>) {
        // A state entry, or (for hooks narrowed to some `kinds`) what an
        // input_wait is for, as the `input_wait` record after it says.
        let (state, kind) = match &logged.record.event {
            Event::State { to, .. } => (to.as_str(), None),
            Event::InputWait {
                kind: Some(kind), ..
            } => ("input_wait", Some(kind.as_str())),
            _ => return,
        };
        let Some(id) = logged.record.session.clone() else {
            return;
        };
        for i in 0..self.hooks.len() {
            let spec = self.hooks[i].spec.clone();
            let narrowed = state == "input_wait" && !spec.kinds.is_empty();
            let wanted = match (narrowed, kind) {
                (false, None) => true,
                (true, Some(kind)) => spec.kinds.iter().any(|k| k == kind),
                _ => false,
            };
            if !wanted
                || !spec.on.iter().any(|s| s == state)
                || !(spec.sessions.is_empty() || spec.sessions.iter().any(|s| s.as_str() == id))
            {
                continue;
            }
            if let Some(capability) = &spec.capability
                && !self.has_capability(&id, capability).await
            {
                continue;
            }
            if !self.hooks[i].admit() {
                continue;
            }
            let running = self.running.clone();
            let progress = self.progress.clone();
            let line = logged.line.clone();
            let (id, state) = (id.clone(), state.to_owned());
            let kind = kind.map(str::to_owned);
            progress.pending.fetch_add(1, Ordering::AcqRel);
            tokio::spawn(async move {
                if let Ok(_slot) = running.acquire_owned().await {
                    run_hook(&spec, &id, &state, kind.as_deref(), &line).await;
                }
                progress.pending.fetch_sub(1, Ordering::AcqRel);
            });
        }
    }

    async fn has_capability(&mut self, id: &str, capability: &str) -> bool {
        if !self.capabilities.contains_key(id)
            && let Ok(table) = self.conductor.snapshot().await
        {
            for row in table {
                self.capabilities.insert(row.id, row.capabilities);
            }
        }
        self.capabilities
            .get(id)
            .is_some_and(|tags| tags.iter().any(|t| t == capability))
    }
}

impl Hook {
    /// Whether one more run fits this hook's rate; warns once per window
    /// about the runs it drops.
    fn admit(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window.0) >= WINDOW {
            if self.dropped > 0 {
                tracing::warn!(
                    hook = ?self.spec.command,
                    "notify hook: {} runs were dropped in the last {} s (at most {MAX_PER_WINDOW} per window)",
                    self.dropped,
                    WINDOW.as_secs()
                );
            }
            self.window = (now, 0);
            self.dropped = 0;
        }
        if self.window.1 >= MAX_PER_WINDOW {
            self.dropped += 1;
            return false;
        }
        self.window.1 += 1;
        true
    }
}

/// Runs `hook` once with `line` on its stdin; logs what went wrong.
async fn run_hook(hook: &NotifyHook, id: &str, state: &str, kind: Option<&str>, line: &str) {
    let Some((program, args)) = hook.command.split_first() else {
        return;
    };
    let mut command = tokio::process::Command::new(program);
    if let Some(kind) = kind {
        command.env("BATON_WAIT_KIND", kind);
    }
    let mut child = match command
        .args(args)
        .env("BATON_SESSION", id)
        .env("BATON_STATE", state)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(hook = ?hook.command, session = id, "notify hook cannot start: {e}");
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let mut text = line.as_bytes().to_vec();
        text.push(b'\n');
        // A hook that does not read its stdin is its business.
        let _ = stdin.write_all(&text).await;
    }
    let mut stderr = child.stderr.take();
    let outcome = tokio::time::timeout(HOOK_TIMEOUT, async {
        let mut said = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.take(QUOTED as u64).read_to_end(&mut said).await;
        }
        (child.wait().await, said)
    })
    .await;
    match outcome {
        Ok((Ok(status), _)) if status.success() => {}
        Ok((Ok(status), said)) => tracing::warn!(
            hook = ?hook.command,
            session = id,
            "notify hook failed ({status}): {}",
            String::from_utf8_lossy(&said).trim()
        ),
        Ok((Err(e), _)) => {
            tracing::warn!(hook = ?hook.command, session = id, "notify hook: {e}");
        }
        Err(_) => tracing::warn!(
            hook = ?hook.command,
            session = id,
            "notify hook still running after {} s; killed",
            HOOK_TIMEOUT.as_secs()
        ),
    }
}
