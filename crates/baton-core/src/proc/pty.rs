//! Starting an agent on a pseudo-terminal, for CLIs that behave differently
//! (or refuse to run) when their stdio is not a TTY.
//!
//! The agent leads its own session with the PTY slave as controlling terminal
//! on fds 0, 1 and 2; baton keeps only the master. Everything else (program
//! resolution, workdir check, environment, signal reset, close-on-exec,
//! parent-death signal) is shared with the pipe spawn in `spawn.rs` and
//! `launch.rs`.
//!
//! The parent must never keep a slave fd: while one is open, the master never
//! reports end of file.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use rustix::io::Errno;
use rustix::pty::OpenptFlags;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::launch::{AgentProcess, Grouping, Plan};
use super::spawn::{check, os_argv};
use super::{Pid, SpawnFailure, SpawnRequest};

/// `TERM` given to a PTY agent whose request does not set one.
const DEFAULT_TERM: &str = "xterm-256color";

/// Terminal window size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtySize {
    /// Columns (width).
    pub cols: u16,
    /// Rows (height).
    pub rows: u16,
}

impl Default for PtySize {
    /// 120 columns by 40 rows.
    fn default() -> Self {
        PtySize {
            cols: 120,
            rows: 40,
        }
    }
}

/// A running agent on a PTY: the session leader and the master side.
///
/// stdout and stderr arrive merged in [`output`](Self::output), with the
/// terminal's output processing applied (`\n` becomes `\r\n`) and typed input
/// echoed back.
#[derive(Debug)]
pub struct PtyChild {
    /// Handle used to wait for the leader's exit. It holds no stdio, so
    /// waiting on it never closes input.
    pub child: AgentProcess,
    /// The leader's pid, which is also its pgid and sid, so
    /// [`super::signal_group`] and [`super::group_is_empty`] work as for a
    /// pipe spawn.
    pub pid: Pid,
    /// Start time of the leader (see [`super::process_start_time`]).
    pub start_time: Option<u64>,
    /// The resolved program path.
    pub program: PathBuf,
    /// What the agent writes to its terminal.
    pub output: PtyReader,
    /// What the agent reads from its terminal, as if typed.
    pub input: PtyWriter,
}

/// The reading half of a PTY master.
///
/// Reads return `Ok(0)` once no process holds the slave any more (Linux
/// reports that as EIO; it never surfaces here), after everything written
/// before that has been read. A read may end in the middle of a UTF-8
/// character or an escape sequence.
#[derive(Debug)]
pub struct PtyReader {
    master: Arc<AsyncFd<OwnedFd>>,
}

/// The writing half of a PTY master. Bytes written reach the agent through
/// the line discipline, so with the default modes they are echoed and a line
/// is delivered when `\n` (or `\r`) is written.
///
/// Once no process holds the slave, Linux accepts and discards writes (an
/// EIO, should a kernel report one, surfaces as [`io::ErrorKind::BrokenPipe`]),
/// so a write never tells that the agent is gone: watch the exit and
/// [`PtyReader`]'s end of file for that. While the agent lives but does not
/// read, writes wait once the terminal's input buffer (a few KiB) is full.
///
/// Shutdown does nothing: a terminal cannot be half-closed; the master
/// closes when both halves are dropped.
#[derive(Debug)]
pub struct PtyWriter {
    master: Arc<AsyncFd<OwnedFd>>,
}

impl AsFd for PtyReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.master.get_ref().as_fd()
    }
}

impl AsFd for PtyWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.master.get_ref().as_fd()
    }
}

impl AsyncRead for PtyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.master.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| read_master(fd.get_ref(), unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.master.poll_write_ready(cx))?;
            match guard.try_io(|fd| write_master(fd.get_ref(), buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One non-blocking read; EIO (every slave fd closed, on Linux) is end of file.
fn read_master(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(Errno::IO) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// One non-blocking write; EIO is a broken pipe, as for a pipe whose reader
/// is gone.
fn write_master(fd: &OwnedFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::io::write(fd, buf) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(Errno::IO) => return Err(io::ErrorKind::BrokenPipe.into()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets the window size of the PTY whose master is `master` (either half of a
/// [`PtyChild`]'s master). The kernel sends SIGWINCH to the terminal's
/// foreground process group when the size changes.
pub fn resize_pty(master: impl AsFd, size: PtySize) -> io::Result<()> {
    rustix::termios::tcsetwinsize(master, winsize(size)).map_err(Into::into)
}

fn winsize(size: PtySize) -> rustix::termios::Winsize {
    rustix::termios::Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Starts `req` on a new PTY of `size`, as the leader of a new session whose
/// controlling terminal is that PTY.
///
/// Program resolution, the workdir check, the environment, the signal reset,
/// close-on-exec of inherited fds and the parent-death signal are those of
/// [`super::spawn`]. `TERM` is set to `xterm-256color` unless `req.env` sets
/// it; terminal modes are the kernel's defaults (echo, canonical input,
/// `\n` → `\r\n` on output). `req.stdin_pipe` is ignored: input always goes
/// through [`PtyChild::input`]. On return the parent holds no slave fd.
///
/// Must be called inside a tokio runtime (outside one it fails with
/// [`SpawnFailure::Os`]), on a thread that outlives the agent (see
/// [`super::spawn_pty_async`]).
pub fn spawn_pty(req: &SpawnRequest, size: PtySize) -> Result<PtyChild, SpawnFailure> {
    let checked = check(req)?;
    let os = |source: io::Error| checked.os(source);
    let (master, slave) = open_pty(size).map_err(os)?;
    if tokio::runtime::Handle::try_current().is_err() {
        // Registering the master would panic.
        return Err(os(io::Error::other("not inside a tokio runtime")));
    }
    // SAFETY: an `OwnedFd` is a valid open fd, always the same one, and it is
    // closed only when the `AsyncFd` drops it.
    let master = unsafe { AsyncFd::register(master) }.map_err(|e| os(e.into()))?;
    let master = Arc::new(master);
    let mut env = req.env.clone();
    if !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), DEFAULT_TERM.into()));
    }
    // A new session whose controlling terminal is the slave, on 0, 1 and 2.
    let mut child = checked.start(&Plan {
        program: &checked.resolved,
        argv: &os_argv(req),
        cwd: &req.cwd,
        env: &env,
        stdio: [slave.as_fd(), slave.as_fd(), slave.as_fd()],
        extra: None,
        grouping: Grouping::NewSessionOnTerminal,
        parent_death: true,
    })?;
    child.kill_on_drop(true);
    // The parent never keeps the slave: the master would never see EOF.
    drop(slave);
    let pid = child.pid();
    Ok(PtyChild {
        start_time: super::process_start_time(pid),
        child,
        pid,
        program: checked.resolved,
        output: PtyReader {
            master: Arc::clone(&master),
        },
        input: PtyWriter { master },
    })
}

/// Opens a PTY pair of `size`: a non-blocking master and a slave that is not
/// (yet) anyone's controlling terminal. Both are close-on-exec.
fn open_pty(size: PtySize) -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let slave = match rustix::pty::ioctl_tiocgptpeer(&master, flags) {
        Ok(slave) => slave,
        // Before Linux 4.13: open the slave by name.
        Err(_) => {
            let name = rustix::pty::ptsname(&master, Vec::new())?;
            use rustix::fs::{Mode, OFlags};
            rustix::fs::open(
                name.as_c_str(),
                OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
                Mode::empty(),
            )?
        }
    };
    rustix::termios::tcsetwinsize(&master, winsize(size))?;
    rustix::io::ioctl_fionbio(&master, true)?;
    Ok((master, slave))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::{Instant, timeout};

    use super::super::{Signal, group_is_empty, signal_group, spawn_pty_async, wait_group_empty};
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(10);

    fn request(argv: &[&str]) -> SpawnRequest {
        SpawnRequest {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: std::env::temp_dir(),
            env: Vec::new(),
            stdin_pipe: false,
        }
    }

    async fn start(argv: &[&str]) -> PtyChild {
        spawn_pty_async(request(argv), PtySize::default())
            .await
            .expect("spawns")
    }

    /// Reads into `seen` until it contains `needle`; panics on EOF or deadline.
    async fn read_until(output: &mut PtyReader, seen: &mut Vec<u8>, needle: &str) {
        let found = timeout(DEADLINE, async {
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(seen).contains(needle) {
                let n = output.read(&mut buf).await.expect("reads");
                if n == 0 {
                    return false;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            true
        })
        .await
        .expect("deadline");
        assert!(
            found,
            "EOF before {needle:?}; saw {:?}",
            String::from_utf8_lossy(seen)
        );
    }

    async fn read_to_eof(output: &mut PtyReader) -> Vec<u8> {
        let mut all = Vec::new();
        timeout(DEADLINE, output.read_to_end(&mut all))
            .await
            .expect("deadline")
            .expect("reads to EOF");
        all
    }

    async fn wait_exit(child: &mut AgentProcess) -> std::process::ExitStatus {
        timeout(DEADLINE, child.wait())
            .await
            .expect("deadline")
            .expect("waits")
    }

    #[tokio::test]
    async fn child_sees_a_terminal() {
        // The sync entry point, on the test thread.
        let mut pty = spawn_pty(
            &request(&[
                "sh",
                "-c",
                "test -t 0 && test -t 1 && test -t 2 && echo tty-yes",
            ]),
            PtySize::default(),
        )
        .expect("spawns");
        let out = read_to_eof(&mut pty.output).await;
        assert_eq!(String::from_utf8_lossy(&out), "tty-yes\r\n");
        assert!(wait_exit(&mut pty.child).await.success());
    }

    #[tokio::test]
    async fn prompt_and_answer_round_trip() {
        let mut pty = start(&[
            "sh",
            "-c",
            r#"printf "Proceed? (y/n) "; read a; echo "got $a""#,
        ])
        .await;
        let mut seen = Vec::new();
        read_until(&mut pty.output, &mut seen, "Proceed? (y/n) ").await;
        pty.input.write_all(b"y\n").await.expect("writes");
        read_until(&mut pty.output, &mut seen, "got y").await;
        seen.extend(read_to_eof(&mut pty.output).await);
        // The answer is echoed by the terminal, and output newlines become CRLF.
        assert_eq!(
            String::from_utf8_lossy(&seen),
            "Proceed? (y/n) y\r\ngot y\r\n"
        );
        assert!(wait_exit(&mut pty.child).await.success());
    }

    #[tokio::test]
    async fn all_output_is_read_when_the_child_floods_and_exits() {
        // 1000 lines of 99 digits and '\n': 100_000 bytes, 101_000 after ONLCR.
        let mut pty = start(&[
            "sh",
            "-c",
            r#"i=0; while [ $i -lt 1000 ]; do printf "%099d\n" $i; i=$((i+1)); done"#,
        ])
        .await;
        let (out, status) = tokio::join!(read_to_eof(&mut pty.output), wait_exit(&mut pty.child));
        assert!(status.success());
        assert_eq!(out.len(), 101_000);
        let text = String::from_utf8(out).expect("ascii");
        assert_eq!(text.matches("\r\n").count(), 1000);
        assert!(text.ends_with(&format!("{:099}\r\n", 999)));
    }

    #[tokio::test]
    async fn output_left_at_exit_is_read_then_eof_is_zero() {
        let mut pty = start(&["sh", "-c", "printf 'last words\\n'"]).await;
        // Exit first, read afterwards: the buffered output must still be there.
        assert!(wait_exit(&mut pty.child).await.success());
        let mut seen = Vec::new();
        read_until(&mut pty.output, &mut seen, "last words\r\n").await;
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            let n = timeout(DEADLINE, pty.output.read(&mut buf))
                .await
                .expect("deadline")
                .expect("EOF is not an error");
            assert_eq!(n, 0);
        }
        // Input for an agent that is gone is discarded, never blocked on.
        let late = vec![b'x'; 1 << 20];
        match timeout(DEADLINE, pty.input.write_all(&late)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            Err(_) => panic!("late write blocked"),
        }
    }

    #[tokio::test]
    async fn missing_binary_is_not_found_by_name() {
        let err = spawn_pty_async(request(&["baton-no-such-agent"]), PtySize::default())
            .await
            .expect_err("must fail");
        assert!(
            matches!(&err, SpawnFailure::NotFound { program, .. } if program == "baton-no-such-agent")
        );
        assert!(err.to_string().contains("baton-no-such-agent"), "{err}");
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err = spawn_pty(&request(&["true"]), PtySize::default()).expect_err("no runtime");
        assert!(matches!(err, SpawnFailure::Os { .. }), "{err}");
    }

    #[tokio::test]
    async fn term_defaults_but_request_wins() {
        let mut pty = start(&["sh", "-c", r#"echo "term=$TERM""#]).await;
        let out = read_to_eof(&mut pty.output).await;
        assert_eq!(String::from_utf8_lossy(&out), "term=xterm-256color\r\n");

        let mut req = request(&["sh", "-c", r#"echo "term=$TERM""#]);
        req.env.push(("TERM".into(), "dumb".into()));
        let mut pty = spawn_pty_async(req, PtySize::default())
            .await
            .expect("spawns");
        let out = read_to_eof(&mut pty.output).await;
        assert_eq!(String::from_utf8_lossy(&out), "term=dumb\r\n");
    }

    #[tokio::test]
    async fn window_size_is_visible_and_resizable() {
        let mut pty = start(&["sh", "-c", "stty size; read x; stty size"]).await;
        let mut seen = Vec::new();
        read_until(&mut pty.output, &mut seen, "40 120\r\n").await;
        resize_pty(
            &pty.input,
            PtySize {
                cols: 100,
                rows: 30,
            },
        )
        .expect("resizes");
        pty.input.write_all(b"\n").await.expect("writes");
        read_until(&mut pty.output, &mut seen, "30 100\r\n").await;
        assert!(wait_exit(&mut pty.child).await.success());
    }

    /// Fields 5 (pgrp), 6 (session) and 7 (tty_nr) of `/proc/PID/stat`.
    fn pgrp_sid_tty(pid: Pid) -> (u32, u32, u64) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let rest = &text[text.rfind(')').expect("comm") + 1..];
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        // `fields[0]` is field 3 (state).
        (
            fields[2].parse().expect("pgrp"),
            fields[3].parse().expect("session"),
            fields[4].parse().expect("tty_nr"),
        )
    }

    #[tokio::test]
    async fn child_leads_its_session_and_group_and_dies_with_it() {
        let mut pty = start(&["sh", "-c", "echo ready; read x"]).await;
        let mut seen = Vec::new();
        read_until(&mut pty.output, &mut seen, "ready").await;

        let (pgrp, sid, tty) = pgrp_sid_tty(pty.pid);
        assert_eq!(pgrp, pty.pid.0);
        assert_eq!(sid, pty.pid.0);
        assert_ne!(tty, 0, "has a controlling terminal");
        assert!(!group_is_empty(pty.pid));

        assert!(signal_group(pty.pid, Signal::Term).expect("signals"));
        let status = wait_exit(&mut pty.child).await;
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(wait_group_empty(pty.pid, Instant::now() + DEADLINE).await);
        read_to_eof(&mut pty.output).await;
    }
}
