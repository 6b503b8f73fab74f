//! `baton send`, `baton kill`, `baton shutdown`: one request, `done` or an error.

use baton_proto::request::{Kill, SendInput, Shutdown, Via};
use baton_proto::{Request, Response};

use super::{Failure, SocketArg, call, finish};
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// The session.
    pub id: String,
    /// One line to write to its input; a newline is added.
    pub text: String,
    /// Only if the session is waiting for input (state input_wait).
    #[arg(long)]
    pub if_waiting: bool,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// The session.
    pub id: String,
}

#[derive(clap::Args, Debug)]
pub struct ShutdownArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// Skip the grace period: SIGKILL every session at once.
    #[arg(long)]
    pub force: bool,
}

pub fn send(args: SendArgs) -> i32 {
    let request = Request::Send(SendInput {
        id: args.id,
        text: args.text,
        if_waiting: args.if_waiting,
        via: Via::Cli,
    });
    finish(done(&args.socket, &request))
}

pub fn kill(args: KillArgs) -> i32 {
    let request = Request::Kill(Kill {
        id: args.id,
        via: Via::Cli,
    });
    finish(done(&args.socket, &request))
}

pub fn shutdown(args: ShutdownArgs) -> i32 {
    let request = Request::Shutdown(Shutdown { force: args.force });
    finish(done(&args.socket, &request))
}

fn done(socket: &SocketArg, request: &Request) -> Result<i32, Failure> {
    match call(socket, request)? {
        Response::Done(_) => Ok(exit::OK),
        other => Err(Failure::Unexpected(other.reply())),
    }
}
