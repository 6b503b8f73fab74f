//! Kernel notifications for processes that are not our children (pidfd)
//! and for files another process appends to (inotify).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;

use tokio::io::unix::AsyncFd;

use super::Pid;

/// Resolves when process `pid` exits, whoever its parent is.
#[derive(Debug)]
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
/// Every `FileWatch` of the process shares one inotify instance, read by one
/// thread that wakes the watches of each event's file: inotify instances are
/// scarce (`fs.inotify.max_user_instances` is 128 by default, and a thousand
/// sessions each following two logs need far more), and closing one waits
/// for an SRCU grace period in the kernel (10–30 ms), which would stall
/// whichever thread dropped it. A watch is a kernel watch descriptor plus a
/// `Notify`, so it works in any runtime.
pub struct FileWatch {
    wd: i32,
    notify: Arc<Notify>,
}

/// The shared inotify instance and who waits on which watch descriptor.
struct Hub {
    fd: OwnedFd,
    watchers: Mutex<HashMap<i32, Vec<Arc<Notify>>>>,
}

fn hub() -> std::io::Result<&'static Hub> {
    // The error is kept by kind: io errors are not Clone.
    static HUB: OnceLock<Result<&'static Hub, std::io::ErrorKind>> = OnceLock::new();
    let hub = HUB.get_or_init(|| {
        use rustix::fs::inotify;
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC)
            .map_err(|e| std::io::Error::from(e).kind())?;
        let hub: &'static Hub = Box::leak(Box::new(Hub {
            fd,
            watchers: Mutex::new(HashMap::new()),
        }));
        std::thread::Builder::new()
            .name("baton-inotify".into())
            .spawn(move || hub.read_loop())
            .map_err(|e| e.kind())?;
        Ok(hub)
    });
    hub.as_ref()
        .map(|h| *h)
        .map_err(|kind| std::io::Error::new(*kind, "inotify could not be set up"))
}

impl Hub {
    /// Reads events forever (blocking) and wakes each event's watchers.
    fn read_loop(&self) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match rustix::io::read(&self.fd, &mut buf) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    tracing::error!(
                        "reading inotify events failed: {e}; file watches fall back to polling"
                    );
                    return;
                }
            };
            // struct inotify_event: wd i32, mask u32, cookie u32, len u32, name[len].
            let mut at = 0;
            let mut woken: Vec<i32> = Vec::new();
            let mut overflowed = false;
            while at + 16 <= n {
                let wd = i32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
                let len =
                    u32::from_ne_bytes([buf[at + 12], buf[at + 13], buf[at + 14], buf[at + 15]]);
                at += 16 + len as usize;
                // The queue overflowed (`IN_Q_OVERFLOW`, on no watch):
                // events were lost, so whoever waits looks again.
                overflowed |= wd == -1;
                if !woken.contains(&wd) {
                    woken.push(wd);
                }
            }
            let watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
            if overflowed {
                tracing::debug!("inotify's queue overflowed: every watch is woken");
                watchers.values().flatten().for_each(|n| n.notify_one());
                continue;
            }
            for wd in woken {
                for notify in watchers.get(&wd).into_iter().flatten() {
                    notify.notify_one();
                }
            }
        }
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        let Ok(hub) = hub() else { return };
        let mut watchers = hub.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = watchers.get_mut(&self.wd) {
            list.retain(|n| !Arc::ptr_eq(n, &self.notify));
            if list.is_empty() {
                watchers.remove(&self.wd);
                // The last watcher of this file: the kernel watch goes too.
                let _ = rustix::fs::inotify::remove_watch(&hub.fd, self.wd);
            }
        }
    }
}

impl FileWatch {
    /// Watches `path` for modifications, and for its writer closing it (a
    /// log's writer closes a file it rolled over from once the next one is
    /// in place: a reader woken then finds the next file).
    pub fn new(path: &Path) -> std::io::Result<FileWatch> {
        use rustix::fs::inotify;
        let hub = hub()?;
        let notify = Arc::new(Notify::new());
        // Registered under the lock, so an event for a fresh watch descriptor
        // cannot be dispatched before its watcher is listed.
        let mut watchers = hub.watchers.lock().unwrap_or_else(|e| e.into_inner());
        let flags = inotify::WatchFlags::MODIFY | inotify::WatchFlags::CLOSE_WRITE;
        let wd = inotify::add_watch(&hub.fd, path, flags)?;
        watchers.entry(wd).or_default().push(notify.clone());
        drop(watchers);
        Ok(FileWatch { wd, notify })
    }

    /// Waits for the next modification(s) since the previous call returned
    /// (a write that happened in between is not missed).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}
