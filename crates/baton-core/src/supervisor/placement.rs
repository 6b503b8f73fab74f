//! Where a session runs: this machine, a named inventory host, or, with
//! `host = "any"`, the inventory host with the most free slots
//! (`max_sessions`). A session that finds every host full waits (`init`,
//! reason `waiting_for_host`, or `restarting`) and is placed when a slot
//! frees up. Each host has one multiplexed ssh connection, made on first use
//! and closed at shutdown.

use std::sync::Arc;

use baton_config::{Placement, SessionId};

use super::{Supervisor, Waiting};
use crate::proc::remote_feed::HostFeed;
use crate::proc::ssh::SshHost;
use crate::state::SessionState;

impl Supervisor {
    /// Decides where session `id`'s next run goes. False when it has to
    /// wait for a host slot; [`Supervisor::place_waiting`] tries again.
    pub(super) fn place(&mut self, id: &SessionId) -> bool {
        let Some(entry) = self.sessions.get(id) else {
            return false;
        };
        let chosen = match entry.spec.placement() {
            Placement::Local => None,
            Placement::Host(name) => Some(name.to_owned()),
            // A session keeps its host across restarts.
            Placement::AnyHost if entry.host.is_some() => entry.host.clone(),
            Placement::AnyHost => match self.freest_host(id) {
                Some(name) => Some(name),
                None => {
                    if let Some(entry) = self.sessions.get_mut(id) {
                        entry.waiting = Some(Waiting::HostSlot);
                        if entry.state == SessionState::Init {
                            entry.reason = Waiting::HostSlot.reason().into();
                        }
                    }
                    return false;
                }
            },
        };
        if let Some(entry) = self.sessions.get_mut(id) {
            entry.host = chosen;
            if entry.waiting == Some(Waiting::HostSlot) {
                entry.waiting = None;
            }
        }
        true
    }

    /// The inventory host with the most free slots, if any has one.
    fn freest_host(&self, id: &SessionId) -> Option<String> {
        let hosts = self.opts.hosts.iter().map(|(name, host)| {
            let used = self
                .sessions
                .iter()
                .filter(|(other, e)| {
                    *other != id
                        && e.host.as_deref() == Some(name.as_str())
                        && !e.state.is_terminal()
                })
                .count();
            (name.as_str(), host.max_sessions, used)
        });
        super::policy::freest_host(hosts).map(str::to_owned)
    }

    /// Sessions waiting for a host slot try again (a session ended).
    pub(super) fn place_waiting(&mut self) {
        if self.shutting_down.is_some() {
            return;
        }
        let waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.waiting == Some(Waiting::HostSlot) && !e.state.is_terminal())
            .map(|(id, _)| id.clone())
            .collect();
        for id in waiting {
            self.request_run(&id);
        }
    }

    /// The ssh connection of inventory host `name`, and its output feed.
    pub(super) fn ssh_host(
        &mut self,
        name: &str,
    ) -> Result<(Arc<SshHost>, Arc<HostFeed>), HostUnusable> {
        if let Some(host) = self.ssh_hosts.get(name) {
            return Ok(host.clone());
        }
        let config = self
            .opts
            .hosts
            .get(name)
            .ok_or_else(|| HostUnusable::NotInInventory(name.to_owned()))?;
        if config.multiplexer == baton_config::Multiplexer::Psmux {
            return Err(HostUnusable::Psmux(name.to_owned()));
        }
        let dir = control_dir(&self.opts.conductor.logs_dir)?;
        let host = SshHost::new(name, config, &dir)?
            .with_timeout(config.remote_timeout_or(self.opts.conductor.remote_timeout));
        let host = Arc::new(host);
        let server = crate::proc::TmuxServer::for_logs_dir(&self.opts.conductor.logs_dir);
        let feed = HostFeed::start(host.clone(), server.name());
        self.ssh_hosts
            .insert(name.to_owned(), (host.clone(), feed.clone()));
        Ok((host, feed))
    }

    /// Closes every ssh master this conductor opened (`ssh -O exit`):
    /// `ControlPersist` masters would otherwise outlive it.
    pub(super) async fn close_ssh_hosts(&mut self) {
        // All at once: each close may wait for its master to go.
        let mut closing = tokio::task::JoinSet::new();
        for (_, (host, _feed)) in self.ssh_hosts.drain() {
            closing.spawn(async move {
                host.close().await;
                // Empty once the master is gone; left alone if anything remains.
                let _ = std::fs::remove_dir(host.control_dir());
            });
        }
        while closing.join_next().await.is_some() {}
    }
}

/// Why a session's inventory host cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum HostUnusable {
    #[error("host `{0}` is not in the hosts inventory")]
    NotInInventory(String),
    #[error(
        "host `{0}`: multiplexer = \"psmux\" (Windows hosts) is not supported by this baton \
         yet; only tmux hosts with a POSIX shell can run sessions"
    )]
    Psmux(String),
    #[error("cannot create the ssh control directory {}: {source}", dir.display())]
    ControlDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the ssh control directory {} is not a private directory of uid {uid}; remove it",
        dir.display()
    )]
    NotPrivate { dir: std::path::PathBuf, uid: u32 },
    #[error(transparent)]
    Ssh(#[from] crate::proc::ssh::SshError),
}

/// A short private directory for the ssh control sockets of one logs dir
/// (socket paths stop at ~108 bytes, so not inside the logs dir).
fn control_dir(logs_dir: &std::path::Path) -> Result<std::path::PathBuf, HostUnusable> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let server = crate::proc::TmuxServer::for_logs_dir(logs_dir);
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("{}-ssh-{uid}", server.name()));
    let fail = |source: std::io::Error| HostUnusable::ControlDir {
        dir: dir.clone(),
        source,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(e)),
    }
    // In a shared temp dir: it must be ours, a real directory, and private
    // (not a symlink, nor a directory someone else made for us).
    let meta = std::fs::symlink_metadata(&dir).map_err(fail)?;
    if !meta.file_type().is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(HostUnusable::NotPrivate { dir, uid });
    }
    Ok(dir)
}
