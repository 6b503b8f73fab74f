//! Forking off the async runtime.
//!
//! A start takes a fraction of a millisecond and blocks its thread until
//! the child runs its program; done on a tokio worker, a burst of spawns
//! would delay every exit, output and deadline behind it. Spawns run on
//! one dedicated thread instead. It must live as long as the process:
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the agent exits,
//! so a pool thread that retires (as `spawn_blocking` threads do after 10 s
//! idle) would take its agents with it.

use std::sync::OnceLock;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{
    Pid, PtyChild, PtySize, ShimSetup, SpawnFailure, SpawnRequest, SpawnedChild, spawn, spawn_pty,
    spawn_shim,
};

/// One spawn, run on the spawner thread; it replies through its own channel.
type Job = Box<dyn FnOnce() + Send>;

fn spawner() -> Option<&'static mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("baton-spawner".into())
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Runs `start` on the spawner thread inside the caller's runtime (the
/// child's reaper and any `AsyncFd` register with it) and returns its result.
async fn on_spawner<T, F>(req: SpawnRequest, start: F) -> Result<T, SpawnFailure>
where
    T: Send + 'static,
    F: FnOnce(&SpawnRequest) -> Result<T, SpawnFailure> + Send + 'static,
{
    let program = req.argv.first().cloned().unwrap_or_default();
    let unavailable = |what: &str| SpawnFailure::Os {
        program: program.clone(),
        source: std::io::Error::other(format!("the spawner thread {what}")),
    };
    let Some(tx) = spawner() else {
        return Err(unavailable("could not be started"));
    };
    let (reply, rx) = oneshot::channel();
    let runtime = tokio::runtime::Handle::current();
    let job: Job = Box::new(move || {
        let _guard = runtime.enter();
        let _ = reply.send(start(&req));
    });
    tx.send(job).map_err(|_| unavailable("is gone"))?;
    rx.await.map_err(|_| unavailable("dropped the request"))?
}

/// [`spawn`], run on the dedicated spawner thread. Must be called inside a
/// tokio runtime; the child is registered with that runtime.
pub async fn spawn_async(req: SpawnRequest) -> Result<SpawnedChild, SpawnFailure> {
    on_spawner(req, spawn).await
}

/// [`spawn_pty`], run on the dedicated spawner thread. Must be called inside a
/// tokio runtime; the child and the PTY master are registered with that runtime.
pub async fn spawn_pty_async(req: SpawnRequest, size: PtySize) -> Result<PtyChild, SpawnFailure> {
    on_spawner(req, move |req| spawn_pty(req, size)).await
}

/// [`spawn_shim`], run on the dedicated spawner thread.
pub async fn spawn_shim_async(
    req: SpawnRequest,
    setup: ShimSetup,
) -> Result<(super::AgentProcess, Pid, Option<u64>), SpawnFailure> {
    on_spawner(req, move |req| spawn_shim(req, setup)).await
}
