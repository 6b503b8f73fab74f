//! `baton events`: the daemon's event log, as text or JSON lines.

use std::io::Write;

use baton_proto::record::Record;
use baton_proto::request::Events;
use baton_proto::{Request, Response};

use super::{Connection, Failure, SocketArg, finish};
use crate::exit;
use crate::render::describe_record;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// Keep printing new records until the daemon stops.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only records about this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only records whose seq is greater than SEQ.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
    /// Print each record as its JSON line, as in events.jsonl.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: EventsArgs) -> i32 {
    finish(run(args))
}

fn run(args: EventsArgs) -> Result<i32, Failure> {
    let request = Request::Events(Events {
        session: args.session,
        since: args.since,
        follow: args.follow,
    });
    let mut conn = Connection::open(&args.socket, &request)?;
    let mut out = std::io::stdout().lock();
    loop {
        match conn.next()? {
            Response::Event(event) => {
                let line = if args.json {
                    serde_json::to_string(&event.record)
                        .map_err(|e| Failure::Usage(format!("cannot print JSON: {e}")))?
                } else {
                    text(&event.record)
                };
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return Ok(exit::OK);
                }
            }
            Response::SkippedEvents(skipped) if skipped.deleted => {
                eprintln!(
                    "baton: {} event records are gone: the segments of events.jsonl that held them were deleted (`keep_segments`)",
                    skipped.count
                );
            }
            Response::SkippedEvents(skipped) => {
                eprintln!(
                    "baton: skipped {} event records: this reader fell too far behind (events.jsonl keeps them)",
                    skipped.count
                );
            }
            Response::EndOfStream(_) => return Ok(exit::OK),
            other => return Err(Failure::Unexpected(other.reply())),
        }
    }
}

/// `SEQ TIME SESSION WHAT`, with every kind of record shown.
fn text(record: &Record) -> String {
    let line = describe_record(record).unwrap_or_else(|| {
        let time = record.ts.get(11..19).unwrap_or(&record.ts);
        let id = record.session.as_deref().unwrap_or("-");
        format!("{time} {id:<16} {}", record.event.name())
    });
    format!("{:>6} {line}", record.seq)
}
