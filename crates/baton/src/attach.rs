//! `baton attach ID`: put this terminal on a tmux-backed session.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use baton_config::Manifest;
use baton_core::eventlog::{Event, read_log};
use baton_core::proc::TmuxServer;

use crate::{AttachArgs, exit};

pub fn main(args: AttachArgs) -> i32 {
    let logs_dir: PathBuf = match &args.logs_dir {
        Some(dir) => dir.clone(),
        None => match Manifest::load(&args.manifest) {
            Ok(m) => m.conductor.logs_dir,
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                eprintln!("hint: pass --logs-dir DIR to attach without a manifest");
                return exit::USAGE;
            }
        },
    };
    let events = logs_dir.join(baton_core::EVENTS_FILE);
    let log = match read_log(&events) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut target = None;
    let mut known = false;
    for r in &log.records {
        if r.session.as_deref() != Some(args.id.as_str()) {
            continue;
        }
        known = true;
        if let Event::Spawn { tmux, .. } = &r.event {
            target = tmux.clone();
        }
    }
    let Some(target) = target else {
        if known {
            eprintln!(
                "error: session `{}` does not run in tmux (backend = \"pipes\" or \"pty\"); only backend = \"tmux\" sessions can be attached",
                args.id
            );
        } else {
            eprintln!("error: no session `{}` in {}", args.id, events.display());
        }
        return exit::SESSION_DEAD;
    };
    let server = TmuxServer::named(target.server);
    let mut argv = server.attach_argv(&target.session).into_iter();
    let Some(program) = argv.next() else {
        return exit::USAGE;
    };
    // Check first, so a finished session gets a clear message instead of tmux's.
    let alive = std::process::Command::new("tmux")
        .args([
            "-L",
            server.name(),
            "has-session",
            "-t",
            &format!("={}", target.session),
        ])
        .env_remove("TMUX")
        .output()
        .is_ok_and(|o| o.status.success());
    if !alive {
        eprintln!(
            "error: session `{}` has no live tmux session any more (it ended; see `baton replay {}`)",
            args.id,
            events.display()
        );
        return exit::SESSION_DEAD;
    }
    // Replace this process: the terminal belongs to tmux until the user detaches.
    let err = std::process::Command::new(program)
        .args(argv)
        .env_remove("TMUX")
        .exec();
    eprintln!("error: cannot run tmux: {err}");
    exit::USAGE
}
