//! Kernel notifications for processes that are not our children (pidfd)
//! and for files another process appends to (inotify).

use std::os::fd::OwnedFd;
use std::path::Path;

use tokio::io::unix::AsyncFd;

use super::Pid;

/// Resolves when process `pid` exits, whoever its parent is.
pub struct ExitWatch {
    fd: AsyncFd<OwnedFd>,
}

impl ExitWatch {
    /// Watches `pid`; fails if it does not exist (any more).
    pub fn new(pid: Pid) -> std::io::Result<ExitWatch> {
        let raw = rustix::process::Pid::from_raw(pid.0 as i32)
            .ok_or_else(|| std::io::Error::other("pid 0"))?;
        let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::NONBLOCK)?;
        // SAFETY: `fd` is a valid, owned pidfd, closed only when the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(ExitWatch { fd })
    }

    /// Completes once the process has exited (a pidfd becomes readable then).
    pub async fn exited(&self) {
        let _ = self.fd.readable().await;
    }
}

/// Wakes whenever the watched file is written to.
///
/// Closing an inotify instance waits for an SRCU grace period in the kernel
/// (often 10–30 ms); dropping one hands the close to the blocking pool so
/// it never stalls a runtime worker (which would delay every other
/// session's exit and output behind it).
pub struct FileWatch {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        let owned = fd.into_inner();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || drop(owned));
            }
            Err(_) => drop(owned),
        }
    }
}

impl FileWatch {
    /// Watches `path` for modifications.
    pub fn new(path: &Path) -> std::io::Result<FileWatch> {
        use rustix::fs::inotify;
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        inotify::add_watch(&fd, path, inotify::WatchFlags::MODIFY)?;
        // SAFETY: `fd` is a valid, owned inotify fd, closed only when the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(FileWatch { fd: Some(fd) })
    }

    /// Waits for the next modification(s), then clears the queue.
    pub async fn changed(&self) {
        let Some(fd) = &self.fd else {
            return std::future::pending().await;
        };
        let Ok(mut guard) = fd.readable().await else {
            return std::future::pending().await;
        };
        let mut buf = [0u8; 4096];
        // Drain every queued event (their content does not matter). Readiness
        // is cleared only by the read that finds the queue empty, so an event
        // that arrives meanwhile wakes the next call.
        let _ = guard.try_io(|inner| {
            loop {
                match rustix::io::read(inner.get_ref(), &mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(std::io::Error::from(e)),
                }
            }
        });
    }
}
