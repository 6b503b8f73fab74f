//! The supervisor's decisions, read off the effects of one message at a
//! time: no process is started, no timer fires and nothing is performed.

use std::sync::Arc;
use std::time::Duration;

use baton_accounts::{Broker, Outcome};

use baton_config::{
    AccountMode, AccountSpec, AgentKind, AnswerRule, HostConfig, OnStall, SessionId, SessionSpec,
    Tier,
};
use baton_monitor::input_wait::Detection;
use tokio::sync::{mpsc, oneshot, watch};

use super::backend::RunTarget;
use super::driver::{RunCtl, RunMsg};
use super::effect::Effect;
use super::leasing::BrokerReply;
use super::{Control, Recoverable, SupMsg, Supervisor, Timer};
use crate::conductor::{ConductorError, ConductorOptions};
use crate::eventlog::{Event, EventLog};
use crate::proc::ExitStatus;
use crate::state::SessionState;

const BACKOFF: Duration = Duration::from_millis(100);

/// A supervisor whose effects are read, never performed.
struct Table {
    sup: Supervisor,
    /// Control channels of the runs decided so far, by session.
    runs: Vec<(String, mpsc::UnboundedReceiver<RunCtl>)>,
    _loop: mpsc::UnboundedReceiver<SupMsg>,
    _dir: tempfile::TempDir,
}

fn table(tweak: impl FnOnce(&mut ConductorOptions)) -> Table {
    table_with_broker(tweak, |_| None)
}

/// A table with a broker of `ids`, accounts of `provider` given by env
/// (their state in the returned directory).
fn table_with_accounts(provider: AgentKind, ids: &[&str]) -> (Table, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("temp dir");
    let state_dir = state.path().to_owned();
    let accounts = ids
        .iter()
        .map(|id| AccountSpec {
            id: (*id).into(),
            provider,
            mode: AccountMode::Env,
            profile: None,
            env: Default::default(),
            auth_file: None,
            host: None,
            tier: Tier::Unknown,
        })
        .collect();
    let t = table_with_broker(
        |o| {
            o.accounts = baton_config::AccountsConfig {
                auth_dir: state_dir.join("auth"),
                state_dir: state_dir.clone(),
                accounts,
                ..Default::default()
            };
        },
        |o| {
            let broker = Broker::open(
                o.accounts.clone(),
                Arc::new(baton_accounts::SystemClock),
                Default::default(),
            )
            .expect("broker");
            Some(Arc::new(broker))
        },
    );
    (t, state)
}

/// A table whose earlier conductor left `sessions` live.
fn table_left(tweak: impl FnOnce(&mut ConductorOptions), sessions: Vec<Recoverable>) -> Table {
    let mut t = table(tweak);
    t.sup
        .recoverable
        .extend(sessions.into_iter().map(|r| (r.id.clone(), r)));
    t
}

/// A table whose sessions lease accounts from `broker` (made from the
/// options, in the table's directory).
fn table_with_broker(
    tweak: impl FnOnce(&mut ConductorOptions),
    broker: impl FnOnce(&ConductorOptions) -> Option<Arc<Broker>>,
) -> Table {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = ConductorOptions {
        conductor: baton_config::ConductorConfig {
            logs_dir: dir.path().join("logs"),
            backoff: BACKOFF,
            backoff_max: Duration::from_secs(1),
            ..Default::default()
        },
        probe: Default::default(),
        agents: Default::default(),
        base_dir: dir.path().to_owned(),
        accounts: Default::default(),
        detach: false,
        hosts: Default::default(),
        backends: Default::default(),
        pricing: Default::default(),
    };
    tweak(&mut opts);
    let log =
        EventLog::open(&dir.path().join("events.jsonl"), opts.conductor.fsync).expect("event log");
    let (tx, rx) = mpsc::unbounded_channel();
    let (live, _) = watch::channel(0);
    let broker = broker(&opts);
    let left = super::Left {
        sessions: Vec::new(),
        worktrees: Vec::new(),
        ended: Vec::new(),
    };
    let sup = Supervisor::new(opts, log, tx, live, broker, Vec::new(), left);
    Table {
        sup,
        runs: Vec::new(),
        _loop: rx,
        _dir: dir,
    }
}

fn id(name: &str) -> SessionId {
    name.parse().expect("valid id")
}

fn spec(name: &str) -> SessionSpec {
    SessionSpec::command(id(name), vec!["agent".into()])
}

fn exit(code: i32) -> ExitStatus {
    ExitStatus {
        code: Some(code),
        signal: None,
    }
}

fn finished(code: i32, tail: &str) -> RunMsg {
    RunMsg::Finished {
        status: exit(code),
        payload: None,
        tail: tail.as_bytes().to_vec(),
    }
}

impl Table {
    /// What handling `msg` decided. Runs it decided are kept in `runs`.
    fn handle(&mut self, msg: SupMsg) -> Vec<Effect> {
        self.sup.handle(msg);
        let mut effects = self.sup.effects.take();
        for effect in &mut effects {
            if let Effect::Drive(drive) = effect {
                let (_, parked) = mpsc::unbounded_channel();
                let ctl = std::mem::replace(&mut drive.ctl, parked);
                self.runs.push((drive.id.to_string(), ctl));
            }
        }
        effects
    }

    fn spawn(&mut self, spec: SessionSpec) -> Vec<Effect> {
        let (reply, _rx) = oneshot::channel();
        self.handle(SupMsg::Control(Control::Spawn {
            spec: Box::new(spec),
            reply,
        }))
    }

    fn kill(&mut self, name: &str) -> (Vec<Effect>, oneshot::Receiver<Result<(), ConductorError>>) {
        let (reply, rx) = oneshot::channel();
        let effects = self.handle(SupMsg::Control(Control::Kill {
            id: id(name),
            reply,
        }));
        (effects, rx)
    }

    fn report(&mut self, name: &str, attempt: u32, msg: RunMsg) -> Vec<Effect> {
        self.handle(SupMsg::Run {
            id: id(name),
            attempt,
            msg,
        })
    }

    fn timer(&mut self, timer: Timer) -> Vec<Effect> {
        self.handle(SupMsg::Timer(timer))
    }

    /// What the latest run of `name` was told since the last call.
    fn told(&mut self, name: &str) -> Vec<RunCtl> {
        let Some((_, ctl)) = self.runs.iter_mut().rev().find(|(n, _)| n == name) else {
            return Vec::new();
        };
        let mut told = Vec::new();
        while let Ok(c) = ctl.try_recv() {
            told.push(c);
        }
        told
    }

    fn row(&mut self, name: &str) -> crate::conductor::SessionRow {
        self.sup
            .snapshot()
            .into_iter()
            .find(|r| r.id == name)
            .expect("session in the table")
    }
}

/// The records among `effects`, in order.
fn records(effects: &[Effect]) -> Vec<&Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record { event, .. } => Some(&**event),
            _ => None,
        })
        .collect()
}

/// The state changes among `effects`, as `from>to:reason`.
fn states(effects: &[Effect]) -> Vec<String> {
    records(effects)
        .into_iter()
        .filter_map(|e| match e {
            Event::State {
                from, to, reason, ..
            } => Some(format!("{from}>{to}:{reason}")),
            _ => None,
        })
        .collect()
}

/// The runs `effects` start, as `(session, attempt)`.
fn drives(effects: &[Effect]) -> Vec<(String, u32)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Drive(d) => Some((d.id.to_string(), d.attempt)),
            _ => None,
        })
        .collect()
}

fn timers(effects: &[Effect]) -> Vec<(Duration, &Timer)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Arm { delay, timer } => Some((*delay, timer)),
            _ => None,
        })
        .collect()
}

fn restart_delay_ms(effects: &[Effect]) -> Option<u64> {
    records(effects).into_iter().find_map(|e| match e {
        Event::State {
            to: SessionState::Restarting,
            delay_ms,
            ..
        } => *delay_ms,
        _ => None,
    })
}

#[tokio::test]
async fn spawn_decides_one_run_and_answers_after_its_first_record() {
    let mut t = table(|_| {});
    let effects = t.spawn(spec("a"));
    assert_eq!(states(&effects), ["init>starting:spawn"]);
    assert_eq!(drives(&effects), [("a".to_owned(), 1)]);
    let record = effects
        .iter()
        .position(|e| matches!(e, Effect::Record { .. }))
        .expect("a record");
    let reply = effects
        .iter()
        .position(|e| matches!(e, Effect::Reply(_)))
        .expect("the caller is answered");
    assert!(
        record < reply,
        "the caller hears of the session after its record"
    );
    // A second session with the same id starts nothing.
    assert!(drives(&t.spawn(spec("a"))).is_empty());
}

/// `ps`'s table as JSON, its rows kept encoded between requests, each
/// decoded; the ages apart.
fn table_json(t: &mut Table, capability: Option<&str>) -> Vec<(crate::conductor::SessionRow, u64)> {
    let sup = &mut t.sup;
    let json = sup
        .table
        .json(&mut sup.sessions, &sup.ended, sup.epoch, capability);
    let rows: Vec<crate::conductor::SessionRow> =
        serde_json::from_slice(&json).expect("the table is JSON of rows");
    rows.into_iter()
        .map(|mut r| (std::mem::take(&mut r.age_ms), r))
        .map(|(age, r)| (r, age))
        .collect()
}

/// The row of `name` built afresh from its session, not kept.
fn fresh_row(t: &Table, name: &str) -> crate::conductor::SessionRow {
    let id = id(name);
    super::table::fixed_row(&id, &t.sup.sessions[&id])
}

#[tokio::test]
async fn the_kept_table_shows_every_change_of_a_session_and_its_age_now() {
    let mut t = table(|_| {});
    let mut reviewer = spec("b");
    reviewer.capabilities = vec!["review".into()];
    t.spawn(spec("c"));
    t.spawn(reviewer);
    t.spawn(spec("a"));
    let ended = crate::conductor::SessionRow {
        state: SessionState::Completed,
        age_ms: 5_000,
        ..t.row("a")
    };
    t.sup.ended.insert(
        id("0-ended"),
        crate::conductor::SessionRow {
            id: "0-ended".into(),
            ..ended.clone()
        },
    );
    // An ended row of an id spawned again: the live session is shown.
    t.sup.ended.insert(
        id("c"),
        crate::conductor::SessionRow {
            id: "c".into(),
            ..ended
        },
    );
    let first = table_json(&mut t, None);
    let ids: Vec<&str> = first.iter().map(|(r, _)| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["0-ended", "a", "b", "c"],
        "by id, ended rows among them"
    );
    assert!(
        first[0].1 >= 5_000,
        "an ended row's age goes on from its end"
    );

    // Each change of what a row shows, one at a time: the next table has
    // it, as a row built afresh has it.
    type Change = fn(&mut super::Entry);
    let changes: [(&str, Change); 17] = [
        ("state", |e| e.state = SessionState::InputWait),
        ("wait kind", |e| {
            e.wait_kind = Some(baton_proto::WaitKind::Question)
        }),
        ("host", |e| e.host = Some("build-1".into())),
        ("reason", |e| e.reason = "question".into()),
        ("restarts", |e| e.restarts = 2),
        ("attempt", |e| e.attempt = 3),
        ("pid", |e| e.pid = Some(4242)),
        ("out bytes", |e| {
            e.shared
                .out_bytes
                .fetch_add(10, std::sync::atomic::Ordering::Relaxed);
        }),
        ("err bytes", |e| {
            e.shared
                .err_bytes
                .fetch_add(3, std::sync::atomic::Ordering::Relaxed);
        }),
        ("last line", |e| {
            e.shared.set_status("Editing src/lib.rs".into());
        }),
        ("exit", |e| e.exit = Some(exit(3))),
        ("payload", |e| {
            e.payload = Some(serde_json::json!({"ok": true}))
        }),
        ("message", |e| e.message = Some("not logged in".into())),
        ("evidence", |e| e.evidence = Some("Apply? [y/N]".into())),
        ("usage", |e| {
            e.usage = Some(baton_proto::Usage {
                input_tokens: 7,
                ..Default::default()
            });
        }),
        ("hooks", |e| {
            e.hooks = Some(baton_proto::HooksState::Reporting)
        }),
        ("worktree", |e| {
            e.worktree_view = Some(baton_proto::SessionWorktree {
                path: "/tmp/wt".into(),
                branch: "baton/a".into(),
                state: "live".into(),
                reason: None,
                end: None,
            });
        }),
    ];
    for (what, change) in changes {
        let before = table_json(&mut t, None);
        change(t.sup.sessions.get_mut(&id("a")).expect("a"));
        let after = table_json(&mut t, None);
        let row = |table: &[(crate::conductor::SessionRow, u64)]| table[1].0.clone();
        assert_ne!(row(&before), row(&after), "a change of its {what} shows");
        assert_eq!(
            row(&after),
            fresh_row(&t, "a"),
            "after a change of its {what}"
        );
        let others = |table: &[(crate::conductor::SessionRow, u64)]| {
            table
                .iter()
                .filter(|(r, _)| r.id != "a")
                .map(|(r, _)| r.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            others(&before),
            others(&after),
            "only `a` changed with its {what}"
        );
    }
    // The typed table is the same table.
    let typed: Vec<_> = t
        .sup
        .snapshot()
        .into_iter()
        .map(|mut r| {
            r.age_ms = 0;
            r
        })
        .collect();
    let json: Vec<_> = table_json(&mut t, None)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(typed, json);

    // Only live sessions that declared the capability.
    let reviewers = table_json(&mut t, Some("review"));
    let ids: Vec<&str> = reviewers.iter().map(|(r, _)| r.id.as_str()).collect();
    assert_eq!(ids, ["b"]);
    t.sup.sessions.get_mut(&id("b")).expect("b").state = SessionState::Dead;
    assert!(
        table_json(&mut t, Some("review")).is_empty(),
        "an ended reviewer is not one"
    );

    // The age is the clock's, not the kept row's.
    let age = |t: &mut Table| table_json(t, None)[1].1;
    let was = age(&mut t);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(age(&mut t) >= was + 30, "the age grows between requests");
}

#[tokio::test]
async fn a_crash_restarts_after_its_backoff_until_the_budget_is_spent() {
    let mut t = table(|_| {});
    let mut s = spec("a");
    s.max_restarts = Some(1);
    t.spawn(s);
    assert_eq!(
        states(&t.report("a", 1, RunMsg::Acknowledged)),
        ["starting>healthy:first_output"]
    );
    let effects = t.report("a", 1, finished(3, "boom\n"));
    assert_eq!(
        states(&effects),
        ["healthy>failed:crash", "failed>restarting:crash"]
    );
    assert!(
        drives(&effects).is_empty(),
        "nothing starts before the backoff"
    );
    let armed = timers(&effects);
    let [(delay, Timer::RestartDue { attempt: 1, .. })] = armed.as_slice() else {
        panic!("one restart timer for attempt 1, got {armed:?}");
    };
    assert!(*delay >= BACKOFF, "backoff {delay:?}");
    assert_eq!(restart_delay_ms(&effects), Some(delay.as_millis() as u64));

    let effects = t.timer(Timer::RestartDue {
        id: id("a"),
        attempt: 1,
    });
    assert_eq!(states(&effects), ["restarting>starting:restart"]);
    assert_eq!(drives(&effects), [("a".to_owned(), 2)]);
    // A report of the first run that arrives late changes nothing.
    assert!(t.report("a", 1, finished(1, "")).is_empty());

    let effects = t.report("a", 2, finished(3, ""));
    assert_eq!(
        states(&effects),
        ["starting>failed:crash", "failed>dead:crash"]
    );
    assert!(timers(&effects).is_empty());
    assert!(records(&effects).iter().any(|e| matches!(
        e,
        Event::Dead { restarts: 1, message: Some(m), .. } if m == "gave up after 1 restarts"
    )));
}

#[tokio::test]
async fn a_kill_while_restarting_starts_nothing_and_its_timer_is_stale() {
    let mut t = table(|_| {});
    t.spawn(spec("a"));
    t.report("a", 1, finished(1, ""));
    assert_eq!(t.row("a").state, SessionState::Restarting);
    let (effects, _answer) = t.kill("a");
    assert!(drives(&effects).is_empty());
    assert_eq!(
        states(&effects),
        [
            "restarting>starting:user_kill",
            "starting>failed:user_kill",
            "failed>dead:user_kill"
        ]
    );
    assert!(
        matches!(effects.last(), Some(Effect::AfterLog(_))),
        "the killer is answered once the dead record is in the file"
    );
    let effects = t.timer(Timer::RestartDue {
        id: id("a"),
        attempt: 1,
    });
    assert!(effects.is_empty(), "a stale restart timer does nothing");
}

#[tokio::test]
async fn a_kill_while_running_asks_the_run_and_waits_for_its_end() {
    let mut t = table(|_| {});
    t.spawn(spec("a"));
    t.report("a", 1, RunMsg::Acknowledged);
    let (effects, mut answer) = t.kill("a");
    assert!(
        states(&effects).is_empty(),
        "no state changes before the run ends"
    );
    let told = t.told("a");
    assert!(matches!(
        told.as_slice(),
        [RunCtl::Terminate { force: false }]
    ));
    assert!(answer.try_recv().is_err(), "not answered yet");
    // A second kill skips the grace: the run is told again.
    t.kill("a");
    assert!(matches!(t.told("a").as_slice(), [RunCtl::Terminate { .. }]));
    // Even a clean exit is a kill once the supervisor ended the run.
    let effects = t.report("a", 1, finished(0, ""));
    assert_eq!(
        states(&effects),
        ["healthy>failed:user_kill", "failed>dead:user_kill"]
    );
    assert!(matches!(effects.last(), Some(Effect::AfterLog(_))));
}

#[tokio::test]
async fn a_completed_run_records_its_payload_before_its_state() {
    let mut t = table(|_| {});
    t.spawn(spec("a"));
    let payload = serde_json::json!({"ok": true});
    let effects = t.report(
        "a",
        1,
        RunMsg::Finished {
            status: exit(0),
            payload: Some(payload.clone()),
            tail: Vec::new(),
        },
    );
    let kinds: Vec<&str> = records(&effects)
        .into_iter()
        .filter_map(|e| match e {
            Event::Completed { payload: p, .. } => {
                assert_eq!(p.as_ref(), Some(&payload));
                Some("completed")
            }
            Event::State { .. } => Some("state"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["completed", "state"]);
    assert_eq!(t.row("a").payload, Some(payload));
}

#[tokio::test]
async fn a_stall_restart_is_due_only_if_the_session_is_still_stalled() {
    let mut t = table(|o| o.probe.stall_restart_after = Duration::from_secs(7));
    let mut s = spec("a");
    s.on_stall = Some(OnStall::Restart);
    s.stall_after = Some(Duration::from_secs(2));
    t.spawn(s);
    t.report("a", 1, RunMsg::Acknowledged);
    let effects = t.report("a", 1, RunMsg::Silent(None));
    assert_eq!(states(&effects), ["healthy>stalled:no_output_for_2s"]);
    let armed = timers(&effects);
    let [(delay, Timer::StallRestartDue { generation, .. })] = armed.as_slice() else {
        panic!("one stall-restart timer, got {armed:?}");
    };
    assert_eq!(*delay, Duration::from_secs(7));
    let generation = *generation;

    // Output came back before the timer: it is stale.
    assert_eq!(
        states(&t.report("a", 1, RunMsg::Resumed)),
        ["stalled>healthy:output_resumed"]
    );
    t.timer(Timer::StallRestartDue {
        id: id("a"),
        attempt: 1,
        generation,
    });
    assert!(t.told("a").is_empty(), "a resumed session is not ended");

    // Stalled again, and this time the timer finds it so.
    let effects = t.report("a", 1, RunMsg::Silent(None));
    let Some((_, Timer::StallRestartDue { generation, .. })) = timers(&effects).pop() else {
        panic!("a second stall-restart timer");
    };
    let generation = *generation;
    t.timer(Timer::StallRestartDue {
        id: id("a"),
        attempt: 1,
        generation,
    });
    assert!(matches!(
        t.told("a").as_slice(),
        [RunCtl::Terminate { force: false }]
    ));
    let effects = t.report("a", 1, finished(143, ""));
    assert_eq!(
        states(&effects),
        ["stalled>failed:stalled", "failed>restarting:stalled"]
    );
}

#[tokio::test]
async fn a_question_is_answered_by_the_first_rule_that_matches_it() {
    let mut t = table(|_| {});
    let mut s = spec("a");
    s.answers = vec![
        AnswerRule {
            pattern: "Proceed".parse().unwrap(),
            reply: "no".into(),
            rule: Some("other_rule".into()),
        },
        AnswerRule {
            pattern: "Proceed".parse().unwrap(),
            reply: "yes".into(),
            rule: None,
        },
    ];
    t.spawn(s);
    t.report("a", 1, RunMsg::Acknowledged);
    let question = Detection {
        rule: "yes_no".into(),
        line: "Proceed? [y/N]".into(),
        confident: true,
    };
    let effects = t.report("a", 1, RunMsg::Silent(Some(question)));
    assert_eq!(states(&effects), ["healthy>input_wait:input_wait:yes_no"]);
    assert!(records(&effects).iter().any(|e| matches!(
        e,
        Event::InputWait { rule, line, .. } if rule == "yes_no" && line == "Proceed? [y/N]"
    )));
    match t.told("a").as_slice() {
        [RunCtl::Input { bytes, source, .. }] => {
            assert_eq!(bytes, b"yes\n");
            assert_eq!(source, "auto_answer");
        }
        other => panic!("one auto answer, got {} requests", other.len()),
    }
    assert_eq!(t.row("a").state, SessionState::InputWait);
}

#[tokio::test]
async fn a_rule_answers_a_question_once_and_then_leaves_it_to_a_person() {
    let mut t = table(|_| {});
    let mut s = spec("a");
    s.answers = vec![AnswerRule {
        pattern: "trust this folder".parse().unwrap(),
        reply: "1".into(),
        rule: None,
    }];
    t.spawn(s);
    t.report("a", 1, RunMsg::Acknowledged);
    let trust = || Detection {
        rule: "menu".into(),
        line: "Do you trust this folder? 1. Yes".into(),
        confident: true,
    };
    let answers = |t: &mut Table| {
        t.told("a")
            .iter()
            .filter(|c| matches!(c, RunCtl::Input { .. }))
            .count()
    };
    t.report("a", 1, RunMsg::Silent(Some(trust())));
    assert_eq!(answers(&mut t), 1);
    // The agent redraws, then a new dialog is judged on a screen where the
    // trust line still shows: the rule does not fire on it again.
    t.report("a", 1, RunMsg::Resumed);
    let effects = t.report("a", 1, RunMsg::Silent(Some(trust())));
    assert_eq!(states(&effects), ["healthy>input_wait:input_wait:menu"]);
    assert_eq!(answers(&mut t), 0, "the same question was answered twice");
    assert_eq!(t.row("a").state, SessionState::InputWait);
    // Another question in between makes the rule eligible again.
    t.report("a", 1, RunMsg::Resumed);
    t.report(
        "a",
        1,
        RunMsg::Silent(Some(Detection {
            rule: "yes_no".into(),
            line: "Use this API key? (y/n)".into(),
            confident: true,
        })),
    );
    t.report("a", 1, RunMsg::Resumed);
    t.report("a", 1, RunMsg::Silent(Some(trust())));
    assert_eq!(answers(&mut t), 1);
}

#[tokio::test]
async fn a_rate_limit_without_an_account_waits_for_the_reset_it_names() {
    let mut t = table(|o| o.conductor.rate_limit_cooldown = Duration::from_secs(300));
    t.spawn(spec("a"));
    t.spawn(spec("b"));
    let effects = t.report(
        "a",
        1,
        finished(1, "You've hit your usage limit. Try again in 2 minutes.\n"),
    );
    assert_eq!(
        states(&effects),
        [
            "starting>failed:rate_limited",
            "failed>restarting:rate_limited"
        ]
    );
    assert_eq!(restart_delay_ms(&effects), Some(120_000));
    // No reset named: the configured cooldown.
    let effects = t.report("b", 1, finished(1, "Error: 429 Too Many Requests\n"));
    assert_eq!(restart_delay_ms(&effects), Some(300_000));
}

#[tokio::test]
async fn a_session_for_any_host_waits_for_a_slot_and_takes_the_one_freed() {
    let mut t = table(|o| {
        let mut host = HostConfig::new("h1", "127.0.0.1");
        host.max_sessions = 1;
        o.hosts.insert("h1".into(), host);
    });
    let mut a = spec("a");
    a.host = Some("any".into());
    let mut b = spec("b");
    b.host = Some("any".into());

    let effects = t.spawn(a);
    assert!(matches!(
        effects.iter().find_map(|e| match e {
            Effect::Drive(d) => Some(&d.target),
            _ => None,
        }),
        Some(RunTarget::Remote { host: h }) if h == "h1"
    ));
    let effects = t.spawn(b);
    assert!(drives(&effects).is_empty(), "h1 is full");
    assert!(states(&effects).is_empty());
    let row = t.row("b");
    assert_eq!(
        (row.state, row.reason.as_str()),
        (SessionState::Init, "waiting_for_host")
    );

    let (_, _answer) = t.kill("a");
    let effects = t.report("a", 1, finished(143, ""));
    assert_eq!(
        states(&effects).last().map(String::as_str),
        Some("failed>dead:user_kill")
    );
    assert!(
        timers(&effects)
            .iter()
            .any(|(d, t)| d.is_zero() && matches!(t, Timer::HostSlotFree)),
        "a freed slot is announced at once"
    );
    let effects = t.timer(Timer::HostSlotFree);
    assert_eq!(drives(&effects), [("b".to_owned(), 1)]);
    assert_eq!(t.row("b").host, "h1");
}

#[tokio::test]
async fn shutdown_stops_every_live_session_and_restarts_none() {
    let mut t = table(|_| {});
    t.spawn(spec("a"));
    t.spawn(spec("b"));
    t.report("b", 1, finished(1, ""));
    assert_eq!(t.row("b").state, SessionState::Restarting);
    let (reply, _rx) = oneshot::channel();
    let effects = t.handle(SupMsg::Control(Control::Shutdown {
        reason: "test".into(),
        force: false,
        reply,
    }));
    assert!(matches!(
        effects.first(),
        Some(Effect::Record { session: None, event })
            if matches!(**event, Event::Shutdown { sessions: 2, .. })
    ));
    assert!(drives(&effects).is_empty());
    assert!(matches!(
        t.told("a").as_slice(),
        [RunCtl::Terminate { force: false }]
    ));
    let effects = t.report("a", 1, finished(1, ""));
    assert_eq!(
        states(&effects),
        ["starting>failed:shutdown", "failed>dead:shutdown"]
    );
    assert_eq!(t.row("b").state, SessionState::Dead);
}

#[tokio::test]
async fn a_session_without_a_free_account_waits_and_asks_again() {
    let (mut t, _state) = table_with_accounts(AgentKind::Codex, &["acct1"]);
    let broker = t.sup.broker.clone().expect("a broker");
    let lease_asked = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::Lease { ticket, .. } => Some(*ticket),
            _ => None,
        })
    };
    let mut s = spec("a");
    s.agent = AgentKind::Codex;
    let effects = t.spawn(s);
    assert_eq!(lease_asked(&effects), Some(1));
    assert!(drives(&effects).is_empty(), "no run before a lease");
    assert!(states(&effects).is_empty());

    // Someone else holds the only account: the broker's answer is "none".
    let held = broker
        .lease(AgentKind::Codex, "other", None)
        .expect("lease")
        .lease
        .expect("the account is free");
    let reply = |ticket, result| {
        SupMsg::Broker(BrokerReply::Leased {
            id: id("a"),
            ticket,
            result,
        })
    };
    let effects = t.handle(reply(1, broker.lease(AgentKind::Codex, "a", None)));
    assert!(records(&effects).iter().any(|e| matches!(
        e,
        Event::NoLease { provider, .. } if provider == "codex"
    )));
    let armed = timers(&effects);
    assert!(
        matches!(armed.as_slice(), [(_, Timer::RetryLease { ticket: 1, .. })]),
        "{armed:?}"
    );
    assert_eq!(t.row("a").reason, "waiting_for_account");

    // Asked again: still none, and that is not recorded twice.
    let effects = t.timer(Timer::RetryLease {
        id: id("a"),
        ticket: 1,
    });
    assert_eq!(lease_asked(&effects), Some(2));
    let effects = t.handle(reply(2, broker.lease(AgentKind::Codex, "a", None)));
    assert!(
        !records(&effects)
            .iter()
            .any(|e| matches!(e, Event::NoLease { .. }))
    );

    // The account comes back; the next answer starts the run with it.
    broker.release(&held, Outcome::Success).expect("release");
    t.timer(Timer::RetryLease {
        id: id("a"),
        ticket: 2,
    });
    let effects = t.handle(reply(3, broker.lease(AgentKind::Codex, "a", None)));
    assert!(records(&effects).iter().any(|e| matches!(
        e,
        Event::Lease { account, .. } if account == "acct1"
    )));
    assert_eq!(states(&effects), ["init>starting:spawn"]);
    let env = effects.iter().find_map(|e| match e {
        Effect::Drive(d) => Some(d.cfg.run.env.clone()),
        _ => None,
    });
    let env = env.expect("the run starts");
    assert!(env.contains(&("BATON_ACCOUNT".into(), "acct1".into())));
    // An answer to an earlier request is stale and starts nothing.
    let late = t.handle(reply(2, broker.lease(AgentKind::Codex, "a", None)));
    assert!(drives(&late).is_empty());
}

fn prepared(name: &str, created: bool) -> RunMsg {
    RunMsg::Worktree(Box::new(crate::worktree::Prepared {
        worktree: crate::worktree::Worktree {
            path: format!("/src/app.baton-worktrees/{name}").into(),
            repo: "/src/app".into(),
            branch: format!("baton/{name}"),
            base: "HEAD".into(),
            base_commit: "1111".into(),
            copied: Vec::new(),
        },
        cwd: format!("/src/app.baton-worktrees/{name}").into(),
        created,
        new_branch: created,
    }))
}

fn worktree_finishes(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::FinishWorktree { .. }))
        .count()
}

#[tokio::test]
async fn a_worktree_is_recorded_once_and_dealt_with_after_the_terminal_state() {
    let mut t = table(|_| {});
    let mut s = spec("a");
    s.max_restarts = Some(1);
    t.spawn(s);
    let effects = t.report("a", 1, prepared("a", true));
    assert!(matches!(
        records(&effects)[..],
        [Event::Worktree { created: true, .. }]
    ));
    // A crash restarts the session: its worktree is not dealt with yet.
    t.report("a", 1, RunMsg::Acknowledged);
    let effects = t.report("a", 1, finished(3, "boom\n"));
    assert_eq!(worktree_finishes(&effects), 0);
    t.timer(Timer::RestartDue {
        id: id("a"),
        attempt: 1,
    });
    // The next run finds the same worktree again: nothing new to record.
    assert!(records(&t.report("a", 2, prepared("a", false))).is_empty());
    t.report("a", 2, RunMsg::Acknowledged);
    let effects = t.report("a", 2, finished(0, ""));
    let at_end = states(&effects);
    assert_eq!(
        at_end.last().map(String::as_str),
        Some("healthy>completed:exit_0")
    );
    assert_eq!(worktree_finishes(&effects), 1, "once, at the end");
    let last_record = effects
        .iter()
        .rposition(|e| matches!(e, Effect::Record { .. }))
        .unwrap();
    let finish = effects
        .iter()
        .position(|e| matches!(e, Effect::FinishWorktree { .. }))
        .unwrap();
    assert!(finish > last_record, "after the terminal state is recorded");
    // Its result is recorded when it comes; shutdown waited for it.
    assert_eq!(t.sup.worktree_ops, 1);
    let summary = baton_proto::record::WorktreeSummary {
        branch: "baton/a".into(),
        ..Default::default()
    };
    let effects = t.handle(SupMsg::WorktreeDone {
        id: id("a"),
        ending: crate::worktree::Ending::Removed(summary),
    });
    assert!(matches!(
        records(&effects)[..],
        [Event::WorktreeRemoved { .. }]
    ));
    assert_eq!(t.sup.worktree_ops, 0);
}

#[tokio::test]
async fn a_remote_session_cannot_have_a_worktree() {
    let mut t = table(|_| {});
    let mut s = spec("a");
    s.host = Some("any".into());
    s.worktree = Some(baton_config::WorktreeSpec::default());
    let (reply, rx) = oneshot::channel();
    for effect in t.handle(SupMsg::Control(Control::Spawn {
        spec: Box::new(s),
        reply,
    })) {
        if let Effect::Reply(answer) = effect {
            answer();
        }
    }
    let refused = rx.await.unwrap().unwrap_err().to_string();
    assert!(
        refused.contains("`worktree` is for sessions on this machine"),
        "{refused}"
    );
}

#[test]
fn the_logged_argv_holds_the_prompt_only_as_its_length_and_hash() {
    let argv: Vec<String> = ["gemini", "--yolo", "--prompt=fix it", "fix", "--", "fix it"]
        .map(String::from)
        .to_vec();
    let logged = super::driver::argv_without_prompt(&argv, "fix it");
    let word =
        "<prompt 6 bytes sha256:ab0d1307766ce08eadfdc7655cd528e2036bd93310e33aecf7aaa78fa5cb9429>";
    assert_eq!(logged[0..2], argv[0..2], "other words stay");
    assert_eq!(logged[2], format!("--prompt={word}"));
    assert_eq!(
        logged[3], "fix",
        "a word that only contains part of it stays"
    );
    assert_eq!(logged[4], "--");
    assert_eq!(logged[5], word);
}

/// A run of a registered backend is taken over by the next conductor when
/// its backend says its runs outlive their conductor; otherwise what is
/// left of it is ended and the session restarts, as for pipes.
#[tokio::test]
async fn a_recorded_run_of_a_registered_backend_is_taken_over_if_it_outlives_its_conductor() {
    use super::backend::{RecordedRun, RunTarget};
    let left = || {
        vec![Recoverable {
            marker: None,
            id: "vm1".into(),
            run: Some(super::LastRun {
                target: RunTarget::Custom { name: "vm".into() },
                run: RecordedRun {
                    pid: 4_000_000,
                    start_time: Some(1),
                    out_offset: 12,
                    err_offset: 0,
                    acknowledged: true,
                    marker: None,
                },
            }),
            state: SessionState::Healthy,
            restarts: 0,
            attempt: 1,
            exited: None,
            out_offset: 12,
            worktree: None,
            usage: None,
            reported: 0,
        }]
    };
    let mut vm = spec("vm1");
    vm.backend = baton_config::Backend::Custom("vm".into());

    // Registered with runs that outlive their conductor (the shim's kind).
    let mut t = table_left(
        |o| {
            o.backends
                .register::<super::backend::shim::Shim>("vm")
                .unwrap();
        },
        left(),
    );
    let effects = t.spawn(vm.clone());
    let resumed = effects.iter().find_map(|e| match e {
        Effect::Drive(d) => Some((d.target.clone(), d.resume.as_ref().map(|r| r.out_offset))),
        _ => None,
    });
    assert_eq!(
        resumed,
        Some((RunTarget::Custom { name: "vm".into() }, Some(12)))
    );

    // Registered with runs that end with their conductor: not taken over.
    let mut t = table_left(
        |o| {
            o.backends
                .register::<super::backend::pipes::Pipes>("vm")
                .unwrap();
        },
        left(),
    );
    let effects = t.spawn(vm);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::EndLeftover { pid, start_time: 1 } if pid.0 == 4_000_000)),
        "the leftovers of the run are ended"
    );
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Drive(d) if d.resume.is_some())),
        "nothing is taken over"
    );
    assert!(
        states(&effects)
            .iter()
            .any(|s| s.starts_with("healthy>failed")),
        "{:?}",
        states(&effects)
    );
}

/// A CLI that refuses the credentials of a leased account says nothing of
/// the session: the account is released as failed and the next run leases
/// another, within the budget. Without accounts the session is dead at once.
#[tokio::test]
async fn refused_credentials_of_a_leased_account_lease_another_instead_of_ending() {
    let (mut t, _state) = table_with_accounts(AgentKind::Claude, &["acct1", "acct2"]);
    let broker = t.sup.broker.clone().expect("a broker");
    let mut s = spec("c");
    s.agent = AgentKind::Claude;
    s.command = None;
    s.prompt = Some("fix it".into());
    t.spawn(s);
    t.handle(SupMsg::Broker(BrokerReply::Leased {
        id: id("c"),
        ticket: 1,
        result: broker.lease(AgentKind::Claude, "c", None),
    }));
    let effects = t.report("c", 1, finished(1, "Not logged in · Please run /login\n"));
    assert_eq!(
        states(&effects),
        [
            "starting>failed:auth_required",
            "failed>restarting:auth_required"
        ]
    );
    let released = effects.iter().find_map(|e| match e {
        Effect::Release { outcome, .. } => Some(*outcome),
        _ => None,
    });
    assert!(matches!(released, Some(Outcome::Failure)), "{released:?}");

    // Without an account to blame, nothing a restart does can help.
    let mut t = table(|_| {});
    let mut s = spec("d");
    s.agent = AgentKind::Claude;
    s.command = None;
    s.prompt = Some("fix it".into());
    t.spawn(s);
    let effects = t.report("d", 1, finished(1, "Not logged in · Please run /login\n"));
    assert_eq!(
        states(&effects),
        ["starting>failed:auth_required", "failed>dead:auth_required"]
    );
}
