//! The claims that make a daemon the only one on its socket and its logs dir.
//!
//! A claim is an exclusive `flock` on a small file holding the owner's pid.
//! The kernel drops it when the process dies however it dies, so a claim
//! never goes stale and two daemons cannot both win a race for it. Claim
//! files are never unlinked: a process could still lock the old inode while
//! a newcomer creates a new file and locks that one too.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An exclusive claim, held until dropped.
#[derive(Debug)]
pub struct Claim {
    file: File,
}

/// Why a claim could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds it.
    #[error("{}", held_message(path, *pid))]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it (absent if it has not yet).
        pid: Option<u32>,
    },
    /// The lock file could not be opened, locked or written.
    #[error("lock file {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn held_message(path: &Path, pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("another baton daemon (pid {pid}) holds {}", path.display()),
        None => format!("another baton daemon holds {}", path.display()),
    }
}

impl Claim {
    /// Takes the claim on `path` (created 0600 if missing) without waiting,
    /// and writes our pid into it.
    pub fn take(path: &Path) -> Result<Claim, ClaimError> {
        let io = |source| ClaimError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let mut waited_for_the_dead = None;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let pid = holder_pid(&mut file);
                    // A holder that is gone can still hold the lock for a
                    // moment: a child it was starting when it died keeps
                    // a copy of its descriptors until its `exec` closes
                    // them. Wait for that, not for a live daemon.
                    let since = *waited_for_the_dead.get_or_insert_with(Instant::now);
                    if pid.is_some_and(is_gone) && since.elapsed() < DEAD_HOLDER_GRACE {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    return Err(ClaimError::Held {
                        path: path.to_owned(),
                        pid,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Claim { file })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // The pid goes first so nobody reads it as a live holder's; closing
        // the file then releases the lock.
        let _ = self.file.set_len(0);
    }
}

/// How long a claim whose holder is gone waits for the lock to drop.
const DEAD_HOLDER_GRACE: Duration = Duration::from_secs(2);

/// Whether no process has `pid` (or it is a zombie, whose files are
/// closed).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which ends with ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

/// The pid the holder wrote. It writes right after locking, so an empty
/// file is given a moment before we give up on naming it.
fn holder_pid(file: &mut File) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        let mut text = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        if read.is_ok()
            && let Some(pid) = parse_pid(&text)
        {
            return Some(pid);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn parse_pid(text: &str) -> Option<u32> {
    text.trim().parse().ok().filter(|pid| *pid > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.lock");
        let first = Claim::take(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        // A second open file description conflicts even in the same process.
        match Claim::take(&path) {
            Err(ClaimError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let again = Claim::take(&path).unwrap();
        drop(again);
    }

    #[test]
    fn a_claim_held_for_a_dead_holder_waits_for_it_to_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.lock");
        // The lock held by an open file description whose writer's pid is
        // gone (as a dying daemon's child holds it a moment).
        let holder = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        holder.lock().unwrap();
        std::fs::write(&path, "999999999\n").unwrap();
        assert!(is_gone(999_999_999));
        assert!(!is_gone(std::process::id()));
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(holder);
        });
        let started = Instant::now();
        let claim = Claim::take(&path).expect("taken once the dead holder's lock dropped");
        assert!(started.elapsed() >= Duration::from_millis(250));
        release.join().unwrap();
        drop(claim);
        // A live holder is refused at once.
        let live = Claim::take(&path).unwrap();
        let started = Instant::now();
        assert!(matches!(Claim::take(&path), Err(ClaimError::Held { .. })));
        assert!(started.elapsed() < DEAD_HOLDER_GRACE);
        drop(live);
    }

    #[test]
    fn pid_text() {
        assert_eq!(parse_pid("123\n"), Some(123));
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0"), None);
        assert_eq!(parse_pid("x"), None);
    }
}
