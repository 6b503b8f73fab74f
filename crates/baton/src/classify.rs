//! `baton classify`: run the conductor's input-wait detector on an output tail.

use std::io::{Read, Write};

use baton_config::{AgentKind, AgentsConfig, Manifest};
use baton_monitor::input_wait::terminal::Terminal;
use serde::Serialize;

use crate::{ClassifyArgs, exit};

#[derive(Serialize)]
struct Verdict {
    waiting: bool,
    rule: Option<String>,
    line: Option<String>,
    /// Judged after `input_wait_after` already (not only at `stall_after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    confident: Option<bool>,
}

pub fn main(args: ClassifyArgs) -> i32 {
    let agents = match &args.manifest {
        Some(path) => match Manifest::load(path) {
            Ok(m) => m.agents,
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                return exit::USAGE;
            }
        },
        None => AgentsConfig::default(),
    };
    let kind = match args
        .agent
        .as_deref()
        .map(str::parse::<AgentKind>)
        .transpose()
    {
        Ok(kind) => kind.unwrap_or(AgentKind::Command),
        Err(e) => {
            eprintln!("error: --agent: {e}");
            return exit::USAGE;
        }
    };
    let detector = match baton_core::detectors::input_wait_detector(agents.get(kind)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut bytes = Vec::new();
    let read = match &args.file {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)),
        None => std::io::stdin().lock().read_to_end(&mut bytes),
    };
    if let Err(e) = read {
        let name = args
            .file
            .as_ref()
            .map_or("stdin".to_owned(), |p| p.display().to_string());
        eprintln!("error: reading {name}: {e}");
        return exit::USAGE;
    }
    let tty = match args
        .tty
        .as_deref()
        .map(|state| (state, Terminal::parse(state)))
    {
        None => None,
        Some((_, Some(tty))) => Some(tty),
        Some((state, None)) => {
            eprintln!(
                "error: --tty {state:?}: want words `canonical=yes|no`, `echo=yes|no`, \
                 `reads=terminal|polls|no|unknown`"
            );
            return exit::USAGE;
        }
    };
    let detection = if args.terminal {
        // A terminal session is judged by its screen, of a PTY's size.
        let size = baton_core::proc::PtySize::default();
        let screen = baton_monitor::screen::screen_of(&bytes, size.rows, size.cols);
        let text = screen.judged();
        if args.show {
            // Agent output is hostile text: no control character reaches
            // the user's terminal as such.
            let shown: String = text
                .chars()
                .flat_map(|c| match c {
                    '\n' => vec!['\n'],
                    c if c.is_control() => c.escape_default().collect(),
                    c => vec![c],
                })
                .collect();
            let _ = writeln!(std::io::stderr(), "{shown}\n--");
        }
        detector.judge(text.as_bytes(), tty.as_ref())
    } else {
        // The conductor judges the same bounded tail.
        let tail = &bytes[bytes.len().saturating_sub(args.tail_bytes)..];
        detector.detect(tail)
    };
    let verdict = Verdict {
        waiting: detection.is_some(),
        rule: detection.as_ref().map(|d| d.rule.clone()),
        confident: detection.as_ref().map(|d| d.confident),
        line: detection.map(|d| d.line),
    };
    let mut out = std::io::stdout().lock();
    match serde_json::to_string(&verdict) {
        Ok(json) => {
            let _ = writeln!(out, "{json}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}
