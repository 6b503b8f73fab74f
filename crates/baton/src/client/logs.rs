//! `baton logs`: a session's output, raw, to stdout.

use std::io::Write;

use baton_proto::request::Logs;
use baton_proto::{ProtoError, Request, Response};

use super::{Connection, Failure, SocketArg, finish};
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// The session.
    pub id: String,
    /// Keep printing new output until the session ends.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Standard error instead of standard output.
    #[arg(long)]
    pub stderr: bool,
    /// Start this many lines before the end.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

pub fn main(args: LogsArgs) -> i32 {
    finish(run(args))
}

fn run(args: LogsArgs) -> Result<i32, Failure> {
    let request = Request::Logs(Logs {
        id: args.id,
        stderr: args.stderr,
        tail: args.tail,
        follow: args.follow,
        ..Logs::default()
    });
    let mut conn = Connection::open(&args.socket, &request)?;
    let mut out = std::io::stdout().lock();
    loop {
        match conn.next()? {
            Response::LogChunk(chunk) => {
                let bytes = chunk.bytes().map_err(|e| {
                    Failure::Protocol(ProtoError::Garbage {
                        detail: format!("log chunk: {e}"),
                    })
                })?;
                if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                    // The reader of our stdout went away (`| head`): done.
                    return Ok(exit::OK);
                }
            }
            Response::Skipped(skipped) if skipped.deleted => {
                eprintln!(
                    "baton: {} bytes of output are gone: the log segments that held them were deleted (`keep_segments`)",
                    skipped.bytes
                );
            }
            Response::Skipped(skipped) => {
                eprintln!(
                    "baton: skipped {} bytes of output: this reader fell too far behind (the log file keeps them)",
                    skipped.bytes
                );
            }
            Response::EndOfStream(_) => return Ok(exit::OK),
            other => return Err(Failure::Unexpected(other.reply())),
        }
    }
}
