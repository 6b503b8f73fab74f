//! What runs' hooks say, acted on (the channel itself: [`crate::hooks`]).
//!
//! Hooks are the most trusted signal of an interactive run: a wait they
//! declare (`permission`, `question`, `idle`) holds while the CLI keeps
//! drawing (a spinner, a clock) and ends only when they say the CLI works
//! again (a prompt submitted, a tool started or done). A run whose hooks
//! have not reported by the time its screen is first judged (a prompt after
//! a quiet, or a stall) is marked `silent` and judged by its screen.

use std::path::PathBuf;

use baton_agents::{HookFailure, Hooked};
use baton_config::SessionId;
use baton_proto::{HooksState, WaitKind};
use tokio::sync::mpsc;

use super::{Event, SessionState, SupMsg, Supervisor};
use crate::hooks::{self, HookKey, HookReport};
use crate::state::FailureClass;

/// How long a CLI may take to draw the dialog its hook announced: an
/// answer sent sooner waits for its screen to settle, at most this long
/// after the hook.
const DRAWN_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// The conductor's end of the hook channel.
pub(crate) struct HookChannel {
    key: HookKey,
    socket: PathBuf,
    /// The shell command line each hook runs: `'…/baton-shim' hook`.
    command: String,
}

/// What one run needs to report through its hooks.
pub(crate) struct RunHook {
    /// The command its hooks run.
    pub command: String,
    /// The socket they report to (`None`: a remote run's, which append to
    /// a file on the host that its backend fetches).
    socket: Option<PathBuf>,
    token: String,
}

impl RunHook {
    /// The variables its environment gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(hooks::TOKEN_ENV.to_owned(), self.token.clone())];
        if let Some(socket) = &self.socket {
            env.push((hooks::SOCKET_ENV.into(), socket.display().to_string()));
        }
        env
    }
}

impl HookChannel {
    /// Binds the socket in `logs_dir` and hears it for the supervisor
    /// behind `tx`. `None` (with a warning saying why): runs get no hooks
    /// and are judged by their screens.
    pub(crate) fn open(
        logs_dir: &std::path::Path,
        tx: &mpsc::UnboundedSender<SupMsg>,
    ) -> Option<HookChannel> {
        let opened = (|| -> Result<HookChannel, String> {
            let shim = crate::proc::shim_path().map_err(|e| e.to_string())?;
            let key = HookKey::load(logs_dir).map_err(|e| format!("its key: {e}"))?;
            let (socket, path) = hooks::bind(logs_dir)
                .map_err(|e| format!("{}: {e}", logs_dir.join(hooks::SOCKET_FILE).display()))?;
            let tx = tx.clone();
            tokio::spawn(hooks::receive(socket, key.clone(), move |report| {
                tx.send(SupMsg::Hook(report)).is_ok()
            }));
            Ok(HookChannel {
                key,
                socket: path,
                command: format!("{} hook", shell_words::quote(&shim.to_string_lossy())),
            })
        })();
        match opened {
            Ok(channel) => Some(channel),
            Err(why) => {
                tracing::warn!(
                    "agent CLIs' hooks are off ({why}): sessions on terminals are judged by their screens"
                );
                None
            }
        }
    }

    /// Whether `report` carries the token of the run it names (a report
    /// a backend heard itself; the socket's are checked as they come).
    pub(crate) fn verify(&self, report: &HookReport) -> bool {
        self.key
            .verify(&report.session, report.attempt, &report.token)
    }

    /// What run `attempt` of session `id` reports with (`remote`: on a
    /// host, where no `baton-shim` is).
    pub(crate) fn for_run(&self, id: &str, attempt: u32, remote: bool) -> RunHook {
        RunHook {
            command: if remote {
                hooks::REMOTE_COMMAND.to_owned()
            } else {
                self.command.clone()
            },
            socket: (!remote).then(|| self.socket.clone()),
            token: self.key.token(id, attempt),
        }
    }
}

impl Supervisor {
    /// A hook of a run spoke: what its CLI says it does now.
    pub(super) fn on_hook(&mut self, report: HookReport) {
        let Ok(id) = report.session.parse::<SessionId>() else {
            return;
        };
        let Some(entry) = self.sessions.get_mut(&id) else {
            return;
        };
        // A hook of an earlier run, or of a run that is ending, changes
        // nothing.
        if entry.attempt != report.attempt
            || entry.hooks.is_none()
            || !entry.state.has_process()
            || entry.ending.is_some()
        {
            return;
        }
        if entry.hooks != Some(HooksState::Reporting) {
            let was_silent = entry.hooks == Some(HooksState::Silent);
            entry.hooks = Some(HooksState::Reporting);
            if was_silent {
                self.append(
                    &id,
                    Event::Hooks {
                        state: HooksState::Reporting,
                        message: "its CLI's hooks report after all".into(),
                    },
                );
            }
        }
        let Some(entry) = self.sessions.get(&id) else {
            return;
        };
        let Some(hooked) = baton_agents::agent(entry.spec.agent).hooked(&report.input) else {
            return;
        };
        let event = report
            .input
            .get("hook_event_name")
            .and_then(serde_json::Value::as_str)
            .map(|name| name.chars().filter(char::is_ascii_alphanumeric).take(40))
            .map(String::from_iter)
            .unwrap_or_default();
        match hooked {
            Hooked::Alive => {}
            Hooked::Works { reason } => self.hook_works(&id, reason),
            Hooked::Waits { kind, evidence } => self.hook_waits(&id, kind, evidence, &event),
            Hooked::Failed { failure, words } => {
                self.append(
                    &id,
                    Event::AgentError {
                        message: words.clone(),
                        retrying: false,
                    },
                );
                let class = match failure {
                    HookFailure::RateLimited => FailureClass::RateLimited,
                    HookFailure::AuthRequired => FailureClass::AuthRequired,
                    // The CLI waits for a person with its error shown.
                    HookFailure::Other => {
                        self.hook_waits(&id, WaitKind::Idle, words, &event);
                        return;
                    }
                };
                if let Some(entry) = self.sessions.get_mut(&id) {
                    entry.message = Some(words);
                }
                self.end_run(&id, class, false);
            }
        }
    }

    /// Its hooks say it works: a wait (or a stall) is over.
    fn hook_works(&mut self, id: &SessionId, reason: &str) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        if matches!(entry.state, SessionState::InputWait | SessionState::Stalled)
            && self.transition(id, SessionState::Healthy, reason, None, None)
        {
            self.arm_budget_reset(id);
        }
    }

    /// Its hooks say it waits for a person, for `kind`.
    fn hook_waits(&mut self, id: &SessionId, kind: WaitKind, evidence: String, event: &str) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        // It spoke: it is up, whatever its screen showed so far.
        if matches!(entry.state, SessionState::Starting | SessionState::Stalled) {
            self.transition(id, SessionState::Healthy, "hook_heard", None, None);
        }
        let record = Event::InputWait {
            rule: format!("hook:{event}"),
            line: evidence.clone(),
            kind: Some(kind),
        };
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        match entry.state {
            // Waiting already (by its screen, or for something else): the
            // state stays; the record says what it waits for now.
            SessionState::InputWait => {
                if entry.wait_kind == Some(kind) {
                    return;
                }
                entry.wait_kind = Some(kind);
                entry.reason = format!("input_wait:{kind}");
                entry.evidence = Some(evidence);
                entry.drawn_by = Some(tokio::time::Instant::now() + DRAWN_WITHIN);
            }
            SessionState::Healthy => {
                let reason = format!("input_wait:{kind}");
                if !self.transition(id, SessionState::InputWait, &reason, None, Some(evidence)) {
                    return;
                }
                if let Some(entry) = self.sessions.get_mut(id) {
                    entry.wait_kind = Some(kind);
                    entry.drawn_by = Some(tokio::time::Instant::now() + DRAWN_WITHIN);
                }
            }
            _ => return,
        }
        self.append(id, record);
    }

    /// Its screen is being judged (a quiet, a stall): a run whose hooks
    /// have said nothing so far is not heard through them.
    pub(super) fn hooks_silent(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        if entry.hooks != Some(HooksState::Expected) || entry.ending.is_some() {
            return;
        }
        entry.hooks = Some(HooksState::Silent);
        // On a host, a file the CLI reads its hooks from is not written
        // over one of the host's own.
        let kept =
            entry.spec.is_remote() && baton_agents::agent(entry.spec.agent).hooks_in_a_file();
        let message = format!(
            "its CLI has not reported through the hooks baton installed for this run{}; it is \
             judged by its screen",
            if kept {
                " (a host that has its own file where baton's hook settings would go keeps it, \
                 and the run has none of baton's hooks)"
            } else {
                ""
            }
        );
        self.append(
            id,
            Event::Hooks {
                state: HooksState::Silent,
                message,
            },
        );
    }
}
