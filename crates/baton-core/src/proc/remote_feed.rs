//! Output and pane status of every session on one remote host, fetched in
//! one ssh call per tick.
//!
//! A stream per session would hold an ssh channel open for as long as the
//! session lives, and sshd allows ten per connection by default
//! (`MaxSessions`): a host with more sessions would run out, and probes and
//! commands with it. So one task per host asks, every [`TICK_MIN`] to
//! [`TICK_MAX`] (faster while output flows), for the state of every pane of
//! baton's tmux server and for the new bytes of every watched output file
//! from the offset it has, through one short call over the host's
//! multiplexed connection. The answer is framed (`<index> <length>` then
//! exactly that many bytes), so the bytes arrive exact, in order, with no
//! gap or duplicate whatever the previous call's fate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::ssh::{SshError, SshHost};
use super::tmux::PaneStatus;

/// Shortest pause between two fetches (while output flows).
pub const TICK_MIN: Duration = Duration::from_millis(250);
/// Longest pause between two fetches (while everything is quiet).
pub const TICK_MAX: Duration = Duration::from_secs(1);
/// Most bytes fetched in one call, over all files (so that a backlog on a
/// slow link is fetched in pieces, each well inside the call's time limit).
const FETCH_MAX: u64 = 8 * 1024 * 1024;
/// Fewest bytes fetched per file in one call.
const CHUNK_MIN: u64 = 64 * 1024;

/// The fetch, run by `sh -c` on the host: `$1` is the tmux server name, `$2`
/// the most bytes per file, then (file, offset) pairs. It prints the panes, a separator line, then for
/// each pair `<index> <length>` and exactly that many bytes of the file.
const SCRIPT: &str = r#"s=$1; max=$2; shift 2
tmux -L "$s" list-panes -a -F '#{session_name} #{pane_dead} #{pane_pid} #{pane_dead_status} #{pane_dead_signal}' 2>/dev/null
echo __BATON_FEED__
i=0
while [ $# -ge 2 ]; do
  f=$1; o=$2; shift 2; n=0
  if [ -f "$f" ]; then sz=$(wc -c < "$f"); n=$((sz - o)); fi
  if [ "$n" -gt "$max" ]; then n=$max; fi
  if [ "$n" -lt 0 ]; then n=0; fi
  printf '%s %s\n' "$i" "$n"
  if [ "$n" -gt 0 ]; then tail -c +$((o + 1)) "$f" | head -c "$n"; fi
  i=$((i + 1))
done"#;

/// What a watch receives.
#[derive(Debug)]
pub enum FeedEvent {
    /// New bytes of the watched file, in order.
    Output(Vec<u8>),
    /// The session's pane as of this fetch (`None`: no such session).
    Pane(Option<PaneStatus>),
    /// This fetch failed (the host may be unreachable).
    Failed(SshError),
}

struct Watch {
    session: String,
    file: String,
    offset: u64,
    tx: mpsc::UnboundedSender<FeedEvent>,
}

/// The fetch loop of one host.
pub struct HostFeed {
    host: Arc<SshHost>,
    server: String,
    watches: Mutex<HashMap<u64, Watch>>,
    next: AtomicU64,
}

/// One session's subscription; dropping it ends the watch.
pub struct FeedWatch {
    feed: Arc<HostFeed>,
    key: u64,
    /// The events, in the order they happened.
    pub rx: mpsc::UnboundedReceiver<FeedEvent>,
}

impl Drop for FeedWatch {
    fn drop(&mut self) {
        self.feed.lock().remove(&self.key);
    }
}

impl HostFeed {
    /// Starts the loop for `host`'s tmux server `server`. Must be called in
    /// a tokio runtime; the loop ends when the last handle goes.
    pub fn start(host: Arc<SshHost>, server: &str) -> Arc<HostFeed> {
        let feed = Arc::new(HostFeed {
            host,
            server: server.to_owned(),
            watches: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        });
        tokio::spawn(run(Arc::downgrade(&feed)));
        feed
    }

    /// Watches session `session`'s output file `file` from byte `offset`.
    pub fn watch(self: &Arc<Self>, session: &str, file: &str, offset: u64) -> FeedWatch {
        let (tx, rx) = mpsc::unbounded_channel();
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            key,
            Watch {
                session: session.to_owned(),
                file: file.to_owned(),
                offset,
                tx,
            },
        );
        FeedWatch {
            feed: self.clone(),
            key,
            rx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Watch>> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One fetch for every watch; returns whether any output came.
    async fn fetch(&self) -> bool {
        let targets: Vec<(u64, String, u64)> = self
            .lock()
            .iter()
            .map(|(k, w)| (*k, w.file.clone(), w.offset))
            .collect();
        if targets.is_empty() {
            return false;
        }
        let per_file = (FETCH_MAX / targets.len() as u64).max(CHUNK_MIN);
        let mut words: Vec<String> = vec!["sh".into(), "-c".into(), SCRIPT.into(), "sh".into()];
        words.push(self.server.clone());
        words.push(per_file.to_string());
        for (_, file, offset) in &targets {
            words.push(file.clone());
            words.push(offset.to_string());
        }
        let answer = match self.host.exec(&words, None).await {
            Ok(out) if out.status == 0 => parse(&out.stdout, targets.len()).map_err(|e| match e {
                SshError::Other { detail, .. } => SshError::Other {
                    host: self.host.name().to_owned(),
                    detail,
                },
                other => other,
            }),
            Ok(out) => Err(SshError::Other {
                host: self.host.name().to_owned(),
                detail: format!(
                    "fetching output failed (status {}): {}",
                    out.status,
                    out.stderr.trim()
                ),
            }),
            Err(e) => Err(e),
        };
        let mut watches = self.lock();
        match answer {
            Err(e) => {
                for watch in watches.values() {
                    let _ = watch.tx.send(FeedEvent::Failed(e.clone()));
                }
                false
            }
            Ok((panes, chunks)) => {
                let mut any = false;
                for ((key, _, offset), chunk) in targets.iter().zip(chunks) {
                    // A watch that went (or was replaced) meanwhile gets nothing.
                    let Some(watch) = watches.get_mut(key).filter(|w| w.offset == *offset) else {
                        continue;
                    };
                    if !chunk.is_empty() {
                        any = true;
                        watch.offset += chunk.len() as u64;
                        let _ = watch.tx.send(FeedEvent::Output(chunk));
                    }
                    let pane = panes.get(&watch.session).copied();
                    let _ = watch.tx.send(FeedEvent::Pane(pane));
                }
                any
            }
        }
    }
}

async fn run(feed: Weak<HostFeed>) {
    let mut tick = TICK_MIN;
    loop {
        tokio::time::sleep(tick).await;
        let Some(feed) = feed.upgrade() else { return };
        tick = if feed.fetch().await {
            TICK_MIN
        } else {
            (tick * 2).min(TICK_MAX)
        };
    }
}

type Panes = HashMap<String, PaneStatus>;

/// Splits the fetch's answer into the panes and one chunk per file.
fn parse(out: &[u8], files: usize) -> Result<(Panes, Vec<Vec<u8>>), SshError> {
    let bad = |detail: &str| SshError::Other {
        host: String::new(),
        detail: format!("unexpected answer from the output fetch: {detail}"),
    };
    let sep = b"__BATON_FEED__\n";
    let at = out
        .windows(sep.len())
        .position(|w| w == sep)
        .ok_or_else(|| bad("no separator"))?;
    let mut panes = Panes::new();
    for line in String::from_utf8_lossy(&out[..at]).lines() {
        let mut f = line.split(' ');
        let (Some(name), Some(dead), Some(pid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse() else { continue };
        panes.insert(
            name.to_owned(),
            PaneStatus {
                dead: dead == "1",
                pid,
                code: f.next().and_then(|s| s.parse().ok()),
                signal: f.next().and_then(|s| s.parse().ok()),
            },
        );
    }
    let mut rest = &out[at + sep.len()..];
    let mut chunks = Vec::with_capacity(files);
    for i in 0..files {
        let nl = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad("missing header"))?;
        let header = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("header not text"))?;
        let (index, len) = header.split_once(' ').ok_or_else(|| bad("bad header"))?;
        if index.parse::<usize>().ok() != Some(i) {
            return Err(bad("headers out of order"));
        }
        let len: usize = len.trim().parse().map_err(|_| bad("bad length"))?;
        let body = &rest[nl + 1..];
        if body.len() < len {
            return Err(bad("short chunk"));
        }
        chunks.push(body[..len].to_vec());
        rest = &body[len..];
    }
    Ok((panes, chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_splits_into_panes_and_exact_chunks() {
        let mut out = b"baton-a 0 42  \nbaton-b 1 43 3 \n__BATON_FEED__\n0 5\n".to_vec();
        out.extend_from_slice(b"he\nl\0");
        out.extend_from_slice(b"1 0\n2 3\nxyz");
        let (panes, chunks) = parse(&out, 3).unwrap();
        assert_eq!(panes["baton-a"].pid, 42);
        assert!(!panes["baton-a"].dead);
        assert!(panes["baton-b"].dead);
        assert_eq!(panes["baton-b"].code, Some(3));
        assert_eq!(
            chunks,
            vec![b"he\nl\0".to_vec(), Vec::new(), b"xyz".to_vec()]
        );
        assert!(parse(b"0 5\nab", 1).is_err(), "no separator");
        assert!(parse(b"__BATON_FEED__\n0 5\nab", 1).is_err(), "short chunk");
    }
}
