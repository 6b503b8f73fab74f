//! `baton run`: an embedded conductor in the foreground.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use baton_config::Manifest;
use baton_core::eventlog::Event;
use baton_core::{Conductor, ConductorOptions, SessionRow, SessionState};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast::error::RecvError;

use crate::view::{LiveView, Output};
use crate::{RunArgs, exit};

/// How long `baton run` waits, once every session has ended, for the
/// `[[notify]]` hooks they started.
const HOOKS_DRAIN: Duration = Duration::from_secs(10);

pub fn main(args: RunArgs) -> i32 {
    let mut manifest = match Manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return exit::USAGE;
        }
    };
    if let Some(dir) = &args.logs_dir {
        manifest.conductor.logs_dir = match std::path::absolute(dir) {
            Ok(dir) => dir,
            Err(e) => {
                eprintln!("error: --logs-dir {}: {e}", dir.display());
                return exit::USAGE;
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::USAGE;
        }
    };
    runtime.block_on(run(manifest, args.json))
}

async fn run(manifest: Manifest, json: bool) -> i32 {
    // Signal streams first: a SIGINT that arrives while sessions start must
    // reach our shutdown path, not kill baton and orphan the agents.
    let (mut sigint, mut sigterm) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return exit::USAGE;
        }
    };
    let (conductor, mut events) =
        match Conductor::start_subscribed(ConductorOptions::from_manifest(&manifest)) {
            Ok(started) => started,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
    // Subscribed before any session starts: no transition is missed.
    let notifications = crate::daemon::notify::start(&conductor, manifest.notify.clone());
    let output = if json {
        Output::Json
    } else if std::io::stdout().is_terminal() {
        Output::Live(LiveView::default())
    } else {
        Output::Plain
    };
    let mut output = output;
    output.header(&manifest, &conductor.events_path());
    // A session the conductor refuses never runs, so it cannot complete.
    let mut refused = 0usize;
    for spec in manifest.sessions.clone() {
        if let Err(e) = conductor.spawn(spec).await {
            eprintln!("error: {e}");
            refused += 1;
        }
    }

    let finisher = conductor.clone();
    let mut done = std::pin::pin!(async move {
        finisher.wait_all_terminal().await;
        let table = finisher.snapshot().await.unwrap_or_default();
        // The last sessions' hooks finish before baton does.
        if let Some(notifications) = notifications {
            notifications.drain(HOOKS_DRAIN).await;
        }
        // The log may already be closed by a signal-driven shutdown.
        let _ = finisher.shutdown("all_sessions_ended", false).await;
        table
    });
    let mut redraw = tokio::time::interval(Duration::from_millis(200));
    let mut interrupts = 0u32;
    let mut final_states: BTreeMap<String, SessionState> = BTreeMap::new();
    let table: Vec<SessionRow> = loop {
        tokio::select! {
            table = &mut done => break table,
            event = events.recv() => match event {
                Ok(event) => {
                    track(&mut final_states, &event.record);
                    output.event(&event);
                }
                Err(RecvError::Lagged(n)) => output.lagged(n),
                Err(RecvError::Closed) => {}
            },
            _ = redraw.tick() => {
                if let Output::Live(view) = &mut output
                    && let Ok(rows) = conductor.snapshot().await
                {
                    view.draw(&rows);
                }
            }
            _ = sigint.recv() => {
                interrupts += 1;
                interrupt(&conductor, interrupts, &mut output);
            }
            _ = sigterm.recv() => {
                interrupts += 1;
                interrupt(&conductor, interrupts.min(1), &mut output);
            }
        }
    };
    // Everything published before the log closed is still queued here.
    while let Ok(event) = events.try_recv() {
        track(&mut final_states, &event.record);
        output.event(&event);
    }
    output.summary(&table, &final_states);
    if interrupts > 0 {
        exit::INTERRUPTED
    } else if refused == 0 && final_states.values().all(|s| *s == SessionState::Completed) {
        exit::OK
    } else {
        exit::SESSION_DEAD
    }
}

fn interrupt(conductor: &Conductor, count: u32, output: &mut Output) {
    let force = count >= 2;
    output.notice(if force {
        "second interrupt: killing every session now (SIGKILL)"
    } else {
        "interrupted: stopping every session (press Ctrl-C again to force)"
    });
    let conductor = conductor.clone();
    tokio::spawn(async move {
        let _ = conductor.shutdown("signal", force).await;
    });
}

fn track(states: &mut BTreeMap<String, SessionState>, record: &baton_core::eventlog::Record) {
    if let (Some(id), Event::State { to, .. }) = (&record.session, &record.event) {
        states.insert(id.clone(), *to);
    }
}
