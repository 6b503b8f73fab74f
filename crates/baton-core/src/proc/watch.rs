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
pub struct FileWatch {
    fd: AsyncFd<OwnedFd>,
}

impl FileWatch {
    /// Watches `path` for modifications.
    pub fn new(path: &Path) -> std::io::Result<FileWatch> {
        use rustix::fs::inotify;
        let fd = inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC)?;
        inotify::add_watch(&fd, path, inotify::WatchFlags::MODIFY)?;
        // SAFETY: `fd` is a valid, owned inotify fd, closed only when the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(FileWatch { fd })
    }

    /// Waits for the next modification(s), then clears the queue.
    pub async fn changed(&self) {
        if let Ok(mut guard) = self.fd.readable().await {
            let mut buf = [0u8; 4096];
            // Drain every queued event; their content does not matter.
            while let Ok(n) = rustix::io::read(self.fd.get_ref(), &mut buf) {
                if n == 0 {
                    break;
                }
            }
            guard.clear_ready();
        }
    }
}
