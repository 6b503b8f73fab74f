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
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ClaimError::Held {
                    path: path.to_owned(),
                    pid: holder_pid(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
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
    fn pid_text() {
        assert_eq!(parse_pid("123\n"), Some(123));
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("0"), None);
        assert_eq!(parse_pid("x"), None);
    }
}
