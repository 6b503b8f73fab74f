//! Forking off the async runtime.
//!
//! `fork`+`exec` takes a millisecond or so; done on a tokio worker, a burst
//! of spawns delays every exit, output and deadline behind it. Spawns run on
//! one dedicated thread instead. It must live as long as the process:
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the agent exits,
//! so a pool thread that retires (as `spawn_blocking` threads do after 10 s
//! idle) would take its agents with it.

use std::sync::OnceLock;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{SpawnFailure, SpawnRequest, SpawnedChild, spawn};

struct Job {
    req: SpawnRequest,
    runtime: tokio::runtime::Handle,
    reply: oneshot::Sender<Result<SpawnedChild, SpawnFailure>>,
}

fn spawner() -> Option<&'static mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("baton-spawner".into())
                .spawn(move || {
                    for job in rx {
                        // The child's reaper registers with the caller's runtime.
                        let _guard = job.runtime.enter();
                        let _ = job.reply.send(spawn(&job.req));
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// [`spawn`], run on the dedicated spawner thread. Must be called inside a
/// tokio runtime; the child is registered with that runtime.
pub async fn spawn_async(req: SpawnRequest) -> Result<SpawnedChild, SpawnFailure> {
    let program = req.argv.first().cloned().unwrap_or_default();
    let unavailable = |what: &str| SpawnFailure::Os {
        program: program.clone(),
        source: std::io::Error::other(format!("the spawner thread {what}")),
    };
    let Some(tx) = spawner() else {
        return Err(unavailable("could not be started"));
    };
    let (reply, rx) = oneshot::channel();
    let job = Job {
        req,
        runtime: tokio::runtime::Handle::current(),
        reply,
    };
    tx.send(job).map_err(|_| unavailable("is gone"))?;
    rx.await.map_err(|_| unavailable("dropped the request"))?
}
