//! `baton web`: the dashboard a person opens in a browser or on a phone.
//!
//! A small HTTP server (axum) that talks to the daemon over the control
//! socket like `baton tui` does, starting one when none listens as `baton
//! mcp` does. It serves one page (HTML and plain JS embedded in the binary:
//! no CDN, no build step) and the JSON API the page uses — which scripts may
//! use too. Every request needs the access token (see [`auth`]); agent
//! output is hostile text everywhere: the API returns it as JSON strings and
//! the page only ever sets it as text.

mod api;
mod auth;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::exit;
use crate::link::DaemonLink;

/// Where `baton web` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7777";

/// The variable that sets the access token instead of a random one.
pub const TOKEN_ENV: &str = "BATON_WEB_TOKEN";

#[derive(clap::Args, Debug)]
pub struct WebArgs {
    /// Address and port to listen on; `127.0.0.1:0` picks a free port.
    /// Beyond loopback, put it behind TLS (a reverse proxy) or on a private
    /// network: the token travels with every request.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The daemon's control socket [default: $BATON_SOCKET, else
    /// $XDG_RUNTIME_DIR/baton/baton.sock, else .baton/baton.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The baton.toml a daemon started by `baton web` runs with (as `baton
    /// daemon --config`); ignored when a daemon already listens.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What every handler shares.
pub(crate) struct Web {
    pub link: Arc<DaemonLink>,
    pub access: auth::Access,
}

pub fn main(args: WebArgs) -> i32 {
    let (socket, config) =
        match crate::link::daemon_target(args.socket.as_deref(), args.config.as_deref()) {
            Ok(target) => target,
            Err(code) => return code,
        };
    let token = match std::env::var(TOKEN_ENV) {
        Ok(token) => match auth::check_given_token(&token) {
            Ok(()) => token,
            Err(message) => {
                eprintln!("error: {TOKEN_ENV}: {message}");
                return exit::USAGE;
            }
        },
        Err(_) => match auth::random_token() {
            Ok(token) => token,
            Err(e) => {
                eprintln!("error: cannot make an access token: {e}");
                return exit::FAILED;
            }
        },
    };
    let csrf = match auth::random_token() {
        Ok(csrf) => csrf,
        Err(e) => {
            eprintln!("error: cannot make a CSRF token: {e}");
            return exit::FAILED;
        }
    };
    let Some(runtime) = crate::link::runtime() else {
        return exit::FAILED;
    };
    let link = Arc::new(DaemonLink::starting_daemon(socket, config));
    runtime.block_on(serve(args.listen, link, auth::Access::new(token, csrf)))
}

async fn serve(listen: SocketAddr, link: Arc<DaemonLink>, access: auth::Access) -> i32 {
    // The daemon first (started if none listens): a page that cannot reach
    // it is no use, and the URL is printed only once it would work.
    if let Err(e) = link.ps().await {
        eprintln!("error: {}", e.message());
        return exit::FAILED;
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return exit::USAGE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: baton web listens on {addr}, beyond this machine: anyone who can reach it \
             and sees the token can control your sessions. Serve it through TLS (a reverse proxy) \
             or only on a private network."
        );
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "http://{addr}/?token={}", access.token());
        let _ = out.flush();
    }
    let web = Arc::new(Web { link, access });
    let app = api::router(web);
    let stop = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: serving HTTP: {e}");
            exit::FAILED
        }
    }
}
