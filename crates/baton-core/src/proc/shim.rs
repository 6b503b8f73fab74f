//! The conductor's side of `baton-shim` (see `src/bin/baton-shim.rs`): where
//! the binary is, what its status file and its end-of-run marker say.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::ExitStatus;

/// Name of the shim executable.
pub const SHIM_NAME: &str = "baton-shim";

/// What `baton-shim --version` prints, and what the conductor requires of
/// the shim it runs: the version and a hash of the sources this crate was
/// built from (`build.rs`). A shim from another build may not know the
/// flags the conductor passes (a `baton-shim log` writer older than the
/// log rollover exits at once, and a tmux session's output is never
/// recorded), so it is refused rather than run.
pub const SHIM_IDENTITY: &str = concat!(
    "baton-shim ",
    env!("CARGO_PKG_VERSION"),
    " build ",
    env!("BATON_SOURCE_HASH")
);

/// Finds `baton-shim` from this build: `$BATON_SHIM`, else next to the
/// running executable (or one directory up, where cargo puts binaries for
/// test executables), else on `PATH`; the first whose `--version` is
/// [`SHIM_IDENTITY`]. The answer is kept while the file stays the same
/// (one `stat` per call): a shim replaced under a running daemon is checked
/// again before the next run uses it.
pub fn shim_path() -> Result<PathBuf, ShimNotFound> {
    static FOUND: Mutex<Option<(PathBuf, Stamp)>> = Mutex::new(None);
    let mut found = FOUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((path, stamp)) = found.as_ref()
        && Stamp::of(path).as_ref() == Some(stamp)
    {
        return Ok(path.clone());
    }
    *found = None;
    let path = find_shim()?;
    if let Some(stamp) = Stamp::of(&path) {
        *found = Some((path.clone(), stamp));
    }
    Ok(path)
}

/// Why no usable `baton-shim` was found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ShimNotFound {
    /// `$BATON_SHIM` names something that is not a file.
    #[error("BATON_SHIM={} is not a file", .0.display())]
    NotAFile(PathBuf),
    /// Not next to the executable (`near`) nor on PATH.
    #[error(
        "`{SHIM_NAME}` not found next to {near} or on PATH; it is built and installed with baton \
         (set BATON_SHIM to its path)"
    )]
    Nowhere {
        /// The running executable, as shown.
        near: String,
    },
    /// The shim found is from another build of baton.
    #[error(
        "{} is not this baton's shim: it reports {reports}, this baton needs `{SHIM_IDENTITY}`; \
         install baton and baton-shim from the same build (`cargo build --workspace --bins`, \
         or set BATON_SHIM to the right one)",
        .path.display()
    )]
    Foreign {
        /// The shim that was found.
        path: PathBuf,
        /// What it said to `--version`, as shown.
        reports: String,
    },
}

/// What identifies a file's content without reading it.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        })
    }
}

fn find_shim() -> Result<PathBuf, ShimNotFound> {
    if let Some(path) = std::env::var_os("BATON_SHIM") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(ShimNotFound::NotAFile(path));
        }
        return check_identity(&path).map(|()| path);
    }
    let exe = std::env::current_exe().ok();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = exe.as_deref().and_then(Path::parent) {
        candidates.push(dir.join(SHIM_NAME));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(SHIM_NAME));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(SHIM_NAME)));
    }
    let mut foreign = None;
    for path in candidates.into_iter().filter(|p| p.is_file()) {
        match check_identity(&path) {
            Ok(()) => return Ok(path),
            Err(e) => {
                foreign.get_or_insert(e);
            }
        }
    }
    Err(foreign.unwrap_or_else(|| ShimNotFound::Nowhere {
        near: exe
            .map(|e| e.display().to_string())
            .unwrap_or_else(|| "this executable".into()),
    }))
}

/// How long a shim gets to answer `--version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `path --version` and checks that it prints [`SHIM_IDENTITY`].
fn check_identity(path: &Path) -> Result<(), ShimNotFound> {
    let foreign = |reports: String| ShimNotFound::Foreign {
        path: path.to_owned(),
        reports,
    };
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| foreign(format!("nothing: it cannot be run ({e})")))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(foreign(format!(
                    "nothing: `--version` did not end within {} s",
                    VERSION_TIMEOUT.as_secs()
                )));
            }
        }
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.by_ref().take(4096).read_to_string(&mut said);
    }
    let said = said.trim();
    if status.success() && said == SHIM_IDENTITY {
        Ok(())
    } else if said.is_empty() {
        Err(foreign(format!(
            "nothing to `--version` ({status}): it is older than this baton"
        )))
    } else {
        Err(foreign(format!("`{}`", said.escape_debug())))
    }
}

/// Parses a status file line `<shim pid> code <N>` / `<shim pid> signal <N>`.
/// Returns the shim pid and the agent's exit status.
pub fn parse_status(text: &str) -> Option<(u32, ExitStatus)> {
    let mut words = text.split_ascii_whitespace();
    let pid = words.next()?.parse().ok()?;
    let kind = words.next()?;
    let value: i32 = words.next()?.parse().ok()?;
    if words.next().is_some() {
        return None;
    }
    let status = match kind {
        "code" => ExitStatus {
            code: Some(value),
            signal: None,
        },
        "signal" => ExitStatus {
            code: None,
            signal: Some(value),
        },
        _ => return None,
    };
    Some((pid, status))
}

/// Reads the status file of the shim `pid`; `None` if it is missing, torn,
/// or was written by another shim.
pub fn read_status(path: &Path, pid: u32) -> Option<ExitStatus> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_status(&text).and_then(|(p, st)| (p == pid).then_some(st))
}

/// Finds an end-of-run marker in a byte stream that arrives in arbitrary
/// chunks, and holds back bytes that might be its beginning.
///
/// Output passes through [`MarkerScanner::feed`]: what it returns is agent
/// output; once a marker is complete, [`MarkerScanner::ended`] gives the
/// status and everything after the marker is dropped. Markers: the shim's
/// ([`MarkerScanner::new`]) and the done token of remote runs
/// ([`MarkerScanner::done_token`]).
pub struct MarkerScanner {
    markers: Vec<Marker>,
    /// Bytes held back: a possible start of a marker.
    held: Vec<u8>,
    ended: Option<ExitStatus>,
    /// Offset in the stream where the marker starts, once seen.
    marker_at: Option<u64>,
    passed: u64,
}

impl std::fmt::Debug for MarkerScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkerScanner")
            .field("ended", &self.ended)
            .field("marker_at", &self.marker_at)
            .finish_non_exhaustive()
    }
}

/// Reads the exit status out of a marker's tail (`None`: not a marker).
type TailParser = Box<dyn Fn(&[u8]) -> Option<ExitStatus> + Send + Sync>;

/// One kind of marker: a fixed prefix, then a tail up to a terminator byte.
struct Marker {
    prefix: Vec<u8>,
    /// Bytes that end the tail (the terminator is part of the marker).
    ends: &'static [u8],
    parse: TailParser,
}

/// Longest tail of a marker after its prefix.
const MARKER_TAIL_MAX: usize = 48;

impl MarkerScanner {
    /// A scanner for the shim's marker carrying `token`:
    /// `ESC ] 777 ; baton-done ; TOKEN ; code|signal ; N BEL`.
    pub fn new(token: &str) -> MarkerScanner {
        MarkerScanner::with(vec![Marker {
            prefix: format!("\x1b]777;baton-done;{token};").into_bytes(),
            ends: b"\x07",
            parse: Box::new(|tail| {
                let text = std::str::from_utf8(tail).ok()?;
                let (kind, value) = text.split_once(';')?;
                status_of(kind, value)
            }),
        }])
    }

    /// A scanner for the done token a remote run's wrapper prints when the
    /// agent ends: `__BATON_DONE__ <code> <nonce>`, ending at CR or LF. The
    /// nonce must match, so output that merely mentions a token — ours, or
    /// the reference conductor's `__TRIFLUX_DONE__ <code>`, which an agent
    /// printing that project's files would show — never ends the run.
    pub fn done_token(nonce: &str) -> MarkerScanner {
        let nonce = nonce.to_owned();
        MarkerScanner::with(vec![Marker {
            prefix: b"__BATON_DONE__ ".to_vec(),
            ends: b"\r\n",
            parse: Box::new(move |tail| {
                let text = std::str::from_utf8(tail).ok()?;
                let (code, rest) = text.split_once(' ')?;
                (rest == nonce).then_some(())?;
                status_of("code", code)
            }),
        }])
    }

    fn with(markers: Vec<Marker>) -> MarkerScanner {
        MarkerScanner {
            markers,
            held: Vec::new(),
            ended: None,
            marker_at: None,
            passed: 0,
        }
    }

    /// The status the marker carried, once it was seen.
    pub fn ended(&self) -> Option<ExitStatus> {
        self.ended
    }

    /// Stream offset (from the first byte fed) where the marker began.
    pub fn marker_at(&self) -> Option<u64> {
        self.marker_at
    }

    /// Feeds `bytes`; returns the agent output that is certain not to be part
    /// of a marker.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.ended.is_some() {
            return Vec::new();
        }
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(bytes);
        let mut out_end = data.len();
        let mut search = 0;
        'scan: while let Some(rel) = data[search..]
            .iter()
            .position(|b| self.markers.iter().any(|m| m.prefix[0] == *b))
        {
            let at = search + rel;
            let rest = &data[at..];
            for marker in &self.markers {
                match marker.at(rest) {
                    Match::No => {}
                    Match::Maybe => {
                        // Could still become a marker: hold it back.
                        out_end = at;
                        break 'scan;
                    }
                    Match::Yes(status) => {
                        self.ended = Some(status);
                        self.marker_at = Some(self.passed + at as u64);
                        out_end = at;
                        break 'scan;
                    }
                }
            }
            search = at + 1;
        }
        if self.ended.is_none() {
            self.held = data[out_end..].to_vec();
        }
        data.truncate(out_end);
        self.passed += data.len() as u64;
        data
    }

    /// Bytes held back when the stream ended without a marker: they were output.
    pub fn flush(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        self.passed += held.len() as u64;
        held
    }
}

enum Match {
    No,
    Maybe,
    Yes(ExitStatus),
}

impl Marker {
    /// Whether `rest` begins with this marker.
    fn at(&self, rest: &[u8]) -> Match {
        let n = rest.len().min(self.prefix.len());
        if rest[..n] != self.prefix[..n] {
            return Match::No;
        }
        if rest.len() < self.prefix.len() {
            return Match::Maybe;
        }
        let tail = &rest[self.prefix.len()..];
        match tail.iter().position(|b| self.ends.contains(b)) {
            Some(end) => match (self.parse)(&tail[..end]) {
                Some(status) => Match::Yes(status),
                None => Match::No,
            },
            None if tail.len() <= MARKER_TAIL_MAX => Match::Maybe,
            None => Match::No,
        }
    }
}

fn status_of(kind: &str, value: &str) -> Option<ExitStatus> {
    let value: i32 = value.parse().ok()?;
    match kind {
        "code" => Some(ExitStatus {
            code: Some(value),
            signal: None,
        }),
        "signal" => Some(ExitStatus {
            code: None,
            signal: Some(value),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MARK: &[u8] = b"\x1b]777;baton-done;abc123;code;3\x07";

    fn run(chunks: &[&[u8]]) -> (Vec<u8>, MarkerScanner) {
        let mut s = MarkerScanner::new("abc123");
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.feed(c));
        }
        (out, s)
    }

    #[test]
    fn marker_in_one_chunk_ends_the_stream() {
        let (out, s) = run(&[b"hello\r\n\x1b]777;baton-done;abc123;code;3\x07after"]);
        assert_eq!(out, b"hello\r\n");
        assert_eq!(s.ended().and_then(|e| e.code), Some(3));
        assert_eq!(s.marker_at(), Some(7));
    }

    #[test]
    fn other_escapes_and_other_tokens_pass_through() {
        let text: &[u8] = b"\x1b[31mred\x1b]0;title\x07\x1b]777;baton-done;zzz;code;0\x07x";
        let (mut out, mut s) = run(&[text]);
        out.extend(s.flush());
        assert_eq!(out, text);
        assert!(s.ended().is_none());
    }

    #[test]
    fn signal_marker() {
        let (_, s) = run(&[b"\x1b]777;baton-done;abc123;signal;9\x07"]);
        assert_eq!(s.ended().and_then(|e| e.signal), Some(9));
    }

    #[test]
    fn done_tokens_need_their_nonce_and_foreign_tokens_are_output() {
        let mut s = MarkerScanner::done_token("n0nce");
        let mut out = s.feed(b"talk about __BATON_DONE__ 0 other\r\nstill going\r\n");
        assert!(s.ended().is_none());
        out.extend(s.feed(b"last__BATON_DONE__ 4 n0"));
        assert!(s.ended().is_none(), "held, not decided");
        out.extend(s.feed(b"nce\r\n"));
        assert_eq!(s.ended().and_then(|e| e.code), Some(4));
        assert_eq!(
            out,
            b"talk about __BATON_DONE__ 0 other\r\nstill going\r\nlast".to_vec()
        );
        assert_eq!(s.marker_at(), Some(out.len() as u64));

        // The reference conductor's token ends nothing baton started.
        let mut t = MarkerScanner::done_token("n0nce");
        let out = t.feed(b"x\n__TRIFLUX_DONE__ 0\n");
        assert_eq!(out, b"x\n__TRIFLUX_DONE__ 0\n");
        assert!(t.ended().is_none());
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status("12 code 0\n").map(|(p, s)| (p, s.code)),
            Some((12, Some(0)))
        );
        assert_eq!(
            parse_status("12 signal 15").map(|(p, s)| (p, s.signal)),
            Some((12, Some(15)))
        );
        assert!(parse_status("12 code").is_none());
        assert!(parse_status("x code 1").is_none());
        assert!(parse_status("12 exit 1").is_none());
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_output(
            before in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            // Output that happens to contain ESC bytes, then the marker.
            let mut stream = before.clone();
            stream.extend_from_slice(MARK);
            stream.extend_from_slice(b"trailing");
            let mut cuts = cuts;
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut s = MarkerScanner::new("abc123");
            let mut out = Vec::new();
            let mut last = 0;
            for cut in cuts {
                let cut = cut.min(stream.len());
                out.extend(s.feed(&stream[last..cut]));
                last = cut;
            }
            // `before` is random, so it may itself contain the marker;
            // the first occurrence is where the stream ends.
            let first = stream.windows(MARK.len()).position(|w| w == MARK);
            prop_assert_eq!(s.marker_at(), first.map(|p| p as u64));
            prop_assert_eq!(&out[..], &stream[..first.unwrap_or(0)]);
        }
    }
}
