//! `baton ps`: the daemon's session table.

use std::io::Write;

use baton_proto::SessionRow;
use baton_proto::request::Ps;
use baton_proto::{Request, Response};

use super::{Failure, SocketArg, call, finish};
use crate::exit;
use crate::render::truncate;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// Only live sessions that declared this capability.
    #[arg(long, value_name = "TAG")]
    pub capability: Option<String>,
    /// Print the sessions as a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: PsArgs) -> i32 {
    finish(run(args))
}

fn run(args: PsArgs) -> Result<i32, Failure> {
    let request = Request::Ps(Ps {
        capability: args.capability,
    });
    let sessions = match call(&args.socket, &request)? {
        Response::Sessions(sessions) => sessions.sessions,
        other => return Err(Failure::Unexpected(other.reply())),
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        match serde_json::to_string_pretty(&sessions) {
            Ok(text) => writeln!(out, "{text}"),
            Err(e) => return Err(Failure::Usage(format!("cannot print JSON: {e}"))),
        }
    } else {
        write!(out, "{}", table(&sessions))
    };
    // A closed stdout (`baton ps | head -1`) is not a failure.
    drop(written);
    Ok(exit::OK)
}

/// The `ps` table: one header line, one line per session.
pub fn table(sessions: &[SessionRow]) -> String {
    let mut text = format!(
        "{:<20} {:<8} {:<8} {:<15} {:>4} {:>7} {:>7} {:>9}  {}\n",
        "ID", "AGENT", "HOST", "STATE", "RST", "AGE", "TOKENS", "COST", "LAST OUTPUT"
    );
    for s in sessions {
        let (tokens, cost) = used(s.usage.as_ref());
        // A run whose hooks stay silent is judged by its screen only.
        let silent = if s.hooks == Some(baton_proto::HooksState::Silent) {
            "(hooks silent) "
        } else {
            ""
        };
        text.push_str(&format!(
            "{:<20} {:<8} {:<8} {:<15} {:>4} {:>7} {:>7} {:>9}  {silent}{}\n",
            truncate(&s.id, 20),
            s.agent,
            truncate(&s.host, 8),
            s.state_text(),
            s.restarts,
            age(s.age_ms),
            tokens,
            cost,
            truncate(s.last_line.as_deref().unwrap_or(""), 60)
        ));
    }
    text
}

/// The TOKENS and COST cells: `-` where the agent reported nothing, and a
/// cost only where its CLI states one.
pub fn used(usage: Option<&baton_proto::Usage>) -> (String, String) {
    match usage {
        Some(u) => (u.tokens_text(), u.cost_text().unwrap_or_else(|| "-".into())),
        None => ("-".into(), "-".into()),
    }
}

/// A short age: `42s`, `3m05s`, `2h07m`, `4d03h`.
fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_cost_cells() {
        let usage = baton_proto::Usage {
            input_tokens: 1500,
            output_tokens: 340,
            cached_tokens: 5000,
            cost_usd: Some(0.0425),
            cost_estimated: false,
        };
        assert_eq!(used(Some(&usage)), ("6.8k".into(), "$0.0425".into()));
        let tokens_only = baton_proto::Usage {
            cost_usd: None,
            ..usage
        };
        assert_eq!(used(Some(&tokens_only)), ("6.8k".into(), "-".into()));
        assert_eq!(used(None), ("-".into(), "-".into()));
        assert_eq!(
            usage.to_string(),
            "1.5k in, 340 out, 5.0k cached tokens, $0.0425"
        );
    }

    #[test]
    fn ages() {
        let cases = [
            (0, "0s"),
            (59_999, "59s"),
            (60_000, "1m00s"),
            (185_000, "3m05s"),
            (3_600_000, "1h00m"),
            (7_620_000, "2h07m"),
            (86_400_000, "1d00h"),
            (356_400_000, "4d03h"),
        ];
        for (ms, want) in cases {
            assert_eq!(age(ms), want, "{ms}");
        }
    }
}
