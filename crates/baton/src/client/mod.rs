//! The client verbs' side of the control socket: find the daemon, say
//! hello, send one request, read its answer(s). Each verb has its own file.
//!
//! Every failure ends in one line on stderr and an exit code from
//! [`crate::exit`]; nothing here panics on what the daemon sends.

pub mod control;
pub mod events;
pub mod logs;
pub mod ps;
pub mod spawn;

use std::io::ErrorKind as IoErrorKind;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use baton_proto::response::{ErrorKind, ErrorReply};
use baton_proto::{
    Hello, HelloReply, PROTOCOL, ProtoError, Request, Response, read_frame, write_frame,
};

use crate::exit;
use crate::socket::Origin;

/// `--socket PATH`, shared by every client verb.
#[derive(clap::Args, Debug, Clone)]
pub struct SocketArg {
    /// The daemon's control socket [default: $BATON_SOCKET, else
    /// $XDG_RUNTIME_DIR/baton/baton.sock, else .baton/baton.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// How long the daemon has to answer the hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a client verb failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad input, found before anything was sent.
    Usage(String),
    /// Bad input, already rendered as a diagnostic (a file and its line).
    Invalid(String),
    /// Nothing listens at the socket path.
    NoDaemon { socket: PathBuf, origin: Origin },
    /// The socket exists but could not be connected to.
    Connect {
        socket: PathBuf,
        source: std::io::Error,
    },
    /// The exchange broke: refused at hello, incompatible, garbage, cut off.
    Protocol(ProtoError),
    /// The daemon answered with an error.
    Daemon(ErrorReply),
    /// The daemon closed the connection before the exchange was over.
    Closed,
    /// A reply that does not belong to this verb.
    Unexpected(&'static str),
}

impl From<ProtoError> for Failure {
    fn from(e: ProtoError) -> Failure {
        Failure::Protocol(e)
    }
}

impl Failure {
    /// Prints the failure on stderr and returns the exit code.
    pub fn report(&self) -> i32 {
        let (code, message) = match self {
            Failure::Invalid(report) => {
                eprintln!("{report}");
                return exit::USAGE;
            }
            Failure::Usage(message) => (exit::USAGE, message.clone()),
            Failure::NoDaemon { socket, origin } => {
                let how = match origin {
                    Origin::Default => "`baton daemon`".to_owned(),
                    Origin::Env | Origin::Flag => {
                        format!("`baton daemon --socket {}`", socket.display())
                    }
                };
                (
                    exit::USAGE,
                    format!(
                        "no baton daemon listening at {} — start one with {how}",
                        socket.display()
                    ),
                )
            }
            Failure::Connect { socket, source } => (
                exit::USAGE,
                format!(
                    "cannot connect to the baton daemon at {}: {source}",
                    socket.display()
                ),
            ),
            Failure::Protocol(e) => (exit::PROTOCOL, e.to_string()),
            Failure::Daemon(reply) => (exit_code(reply.kind), reply.message.clone()),
            Failure::Closed => (
                exit::PROTOCOL,
                "the daemon closed the connection before answering".to_owned(),
            ),
            Failure::Unexpected(reply) => (
                exit::PROTOCOL,
                format!("the daemon sent an unexpected `{reply}` reply"),
            ),
        };
        eprintln!("error: {message}");
        code
    }
}

/// The exit code for an error the daemon answered with.
fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        // The user named something that does not exist or asked for
        // something invalid: bad input, like a bad flag.
        ErrorKind::UnknownSession | ErrorKind::BadRequest => exit::USAGE,
        ErrorKind::NotWaiting | ErrorKind::Refused | ErrorKind::Internal => exit::FAILED,
        ErrorKind::Unsupported => exit::PROTOCOL,
    }
}

/// A connection whose request has been sent.
pub struct Connection {
    stream: UnixStream,
}

impl Connection {
    /// Connects to the daemon, exchanges hellos and sends `request`.
    pub fn open(socket: &SocketArg, request: &Request) -> Result<Connection, Failure> {
        let (path, origin) =
            crate::socket::resolve(socket.socket.as_deref()).map_err(Failure::Usage)?;
        let mut stream = match UnixStream::connect(&path) {
            Ok(stream) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    IoErrorKind::NotFound | IoErrorKind::ConnectionRefused
                ) =>
            {
                return Err(Failure::NoDaemon {
                    socket: path,
                    origin,
                });
            }
            Err(source) => {
                return Err(Failure::Connect {
                    socket: path,
                    source,
                });
            }
        };
        let io = |e: std::io::Error| Failure::Protocol(ProtoError::Io(e));
        stream.set_read_timeout(Some(HELLO_TIMEOUT)).map_err(io)?;
        write_frame(&mut stream, &Hello::new(env!("CARGO_PKG_VERSION")))?;
        let reply = read_frame::<HelloReply>(&mut stream)?.ok_or(Failure::Closed)?;
        let welcome = reply.accept(PROTOCOL)?;
        request.check_peer(welcome.protocol)?;
        // Answers to `kill` or `shutdown` take as long as the sessions'
        // grace, and a followed stream is open-ended.
        stream.set_read_timeout(None).map_err(io)?;
        write_frame(&mut stream, request)?;
        Ok(Connection { stream })
    }

    /// The next response; an `error` reply becomes [`Failure::Daemon`].
    pub fn next(&mut self) -> Result<Response, Failure> {
        match read_frame::<Response>(&mut self.stream)? {
            Some(Response::Error(reply)) => Err(Failure::Daemon(reply)),
            Some(response) => Ok(response),
            None => Err(Failure::Closed),
        }
    }
}

/// Sends `request` and returns its single answer.
pub fn call(socket: &SocketArg, request: &Request) -> Result<Response, Failure> {
    Connection::open(socket, request)?.next()
}

/// Runs a verb body, turning a failure into its report and exit code.
pub fn finish(result: Result<i32, Failure>) -> i32 {
    result.unwrap_or_else(|failure| failure.report())
}
