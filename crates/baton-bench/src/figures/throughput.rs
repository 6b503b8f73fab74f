//! Output throughput: one flooding session against `agent | cat > file`,
//! with every byte on disk checked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::SessionState;
use baton_core::eventlog::Event;
use sha2::{Digest, Sha256};
use stand_in_agent::flood_bytes;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT};
use crate::Fallible;
use crate::harness::{Harness, ms_between};
use crate::report::{Row, Target};
use crate::stats::median;

/// Floods `size` bytes `runs` times under baton and through `cat`, interleaved.
pub async fn measure(ctx: &Ctx, size: u64, runs: usize) -> Fallible<Outcome> {
    let expected = tokio::task::spawn_blocking(move || sha256_flood(size))
        .await
        .map_err(|e| format!("hashing the flood pattern panicked: {e}"))?;
    // Generous: a run that moves less than 5 MB/s is broken, not slow.
    let limit = Duration::from_secs(60) + Duration::from_secs(size / 5_000_000);
    let mut h = Harness::start(&ctx.dir.join("baton"), ProbeConfig::default(), ctx)?;
    let measured: Fallible<_> = async {
        let (mut baton, mut cat) = (Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!("  throughput run {}/{runs}: baton", run + 1);
            let id = format!("flood-{run}");
            let secs = flood_under_baton(&mut h, &id, size, limit).await?;
            verify(&h.out_log(&id), size, &expected).await?;
            baton.push(secs);
            eprintln!("  throughput run {}/{runs}: cat", run + 1);
            let out = ctx.dir.join(format!("cat-{run}.out"));
            let secs = flood_through_cat(&ctx.stand_in, &out, size, limit).await?;
            let written = std::fs::metadata(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            if written.len() != size {
                return Err(format!(
                    "cat baseline wrote {} bytes, expected {size}",
                    written.len()
                )
                .into());
            }
            let _ = std::fs::remove_file(&out);
            cat.push(secs);
        }
        Ok((baton, cat))
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let (baton, cat) = measured?;
    closed?;

    let mbps = |secs: f64| size as f64 / 1e6 / secs;
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let med = |v: &[f64]| median(v).ok_or("no throughput samples");
    let list = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("output MB/s, best of {runs}"),
                mbps(best(&baton)),
                Some(mbps(best(&cat))),
                Target::RatioAtLeast(0.8),
            ),
            Row::new(
                format!("output MB/s, median of {runs}"),
                mbps(med(&baton)?),
                Some(mbps(med(&cat)?)),
                Target::RatioAtLeast(0.8),
            ),
        ],
        notes: vec![
            format!(
                "throughput: {size} bytes per run, runs interleaved; baton = receipt of `spawn` -> \
                 receipt of `completed` ({} s); baseline = sh -c 'stand-in flood | cat > file', \
                 spawn -> wait ({} s)",
                list(&baton),
                list(&cat)
            ),
            format!(
                "throughput checksum: verified: {runs}/{runs} baton runs wrote exactly {size} bytes \
                 with sha256 {} (= flood_bytes({size}))",
                hex(&expected)
            ),
        ],
    })
}

/// Seconds from the `spawn` record to the `completed` record of session `id`.
async fn flood_under_baton(h: &mut Harness, id: &str, size: u64, limit: Duration) -> Fallible<f64> {
    let deadline = Instant::now() + limit;
    h.spawn(id, &[format!("flood:{size}")]).await?;
    let what = format!("session {id} to complete its flood");
    let mut spawned = None;
    loop {
        let r = h.next(deadline, &what).await?;
        if r.session() != Some(id) {
            continue;
        }
        match r.event() {
            Event::Spawn { .. } => spawned = Some(r.at_ns),
            Event::Completed { .. } => {
                let start = spawned.ok_or_else(|| format!("{id}: `completed` before `spawn`"))?;
                return Ok(ms_between(r.at_ns, start) / 1e3);
            }
            Event::State {
                to: to @ (SessionState::Failed | SessionState::Dead),
                reason,
                ..
            } => return Err(format!("flood session {id} went {to:?}: {reason}").into()),
            _ => {}
        }
    }
}

/// Seconds for `sh -c 'stand-in flood:SIZE | cat > out'` from spawn to wait.
async fn flood_through_cat(
    stand_in: &Path,
    out: &Path,
    size: u64,
    limit: Duration,
) -> Fallible<f64> {
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$0" "$1" | cat > "$2""#)
        .arg(stand_in)
        .arg(format!("flood:{size}"))
        .arg(out)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let pgid = child.id();
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(started.elapsed().as_secs_f64()),
        Ok(Ok(status)) => Err(format!("cat baseline pipeline ended with {status}").into()),
        Ok(Err(e)) => Err(format!("waiting for the cat baseline: {e}").into()),
        Err(_) => {
            if let Some(pgid) = pgid {
                // SAFETY: kill(2) on the group led by our own unreaped child.
                unsafe { libc::kill(-(pgid as libc::pid_t), libc::SIGKILL) };
            }
            Err(format!("cat baseline did not finish within {limit:?}").into())
        }
    }
}

/// Checks that the log `path` holds exactly `flood_bytes(size)` (across
/// its segments), then removes it.
async fn verify(path: &Path, size: u64, expected: &[u8; 32]) -> Fallible<()> {
    let owned: PathBuf = path.to_owned();
    let (len, digest) = tokio::task::spawn_blocking(move || sha256_log(&owned))
        .await
        .map_err(|e| format!("hashing {} panicked: {e}", path.display()))??;
    if len != size {
        return Err(format!(
            "output verification FAILED: {} has {len} bytes, expected {size}",
            path.display()
        )
        .into());
    }
    if &digest != expected {
        return Err(format!(
            "output verification FAILED: {} has sha256 {}, expected {}",
            path.display(),
            hex(&digest),
            hex(expected)
        )
        .into());
    }
    for segment in baton_core::seglog::segments(path).unwrap_or_default() {
        let _ = std::fs::remove_file(&segment.path);
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

fn sha256_flood(size: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for chunk in flood_bytes(size) {
        hasher.update(chunk);
    }
    hasher.finalize().into()
}

/// The length and sha256 of a whole log, read across its segments.
fn sha256_log(path: &Path) -> Fallible<(u64, [u8; 32])> {
    use baton_core::seglog::{Got, LogReader};
    let mut log = LogReader::new(path);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        match log
            .read_into(len, &mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?
        {
            Got::Bytes(0) => return Ok((len, hasher.finalize().into())),
            Got::Bytes(n) => {
                len += n as u64;
                hasher.update(&buf[..n]);
            }
            Got::Dropped { to } => {
                return Err(format!("{}: bytes {len}..{to} were deleted", path.display()).into());
            }
        }
    }
}

/// The same flood under two conductors, interleaved: one whose logs roll
/// over every 64 MiB, one whose logs never do. Both checksummed.
pub async fn measure_rolling(ctx: &Ctx, size: u64, runs: usize) -> Fallible<Outcome> {
    const SEGMENT: u64 = baton_config::DEFAULT_MAX_LOG_SIZE;
    let expected = tokio::task::spawn_blocking(move || sha256_flood(size))
        .await
        .map_err(|e| format!("hashing the flood pattern panicked: {e}"))?;
    let limit = Duration::from_secs(60) + Duration::from_secs(size / 5_000_000);
    let probe = ProbeConfig::default;
    let mut rolling = Harness::start_tweaked(&ctx.dir.join("rolling"), probe(), ctx, |c| {
        c.max_log_size = SEGMENT;
    })?;
    let mut flat = Harness::start_tweaked(&ctx.dir.join("flat"), probe(), ctx, |c| {
        c.max_log_size = 0;
    })?;
    let measured: Fallible<_> = async {
        let (mut rolled, mut single, mut segments) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let id = format!("flood-{run}");
            // Each side goes first in every other run: neither gets the
            // warmer page cache each time.
            for rolls in [run % 2 == 0, run % 2 == 1] {
                if rolls {
                    eprintln!("  rolling run {}/{runs}: 64 MiB segments", run + 1);
                    rolled.push(flood_under_baton(&mut rolling, &id, size, limit).await?);
                    let path = rolling.out_log(&id);
                    segments.push(baton_core::seglog::segments(&path).map_or(0, |s| s.len()));
                    verify(&path, size, &expected).await?;
                } else {
                    eprintln!("  rolling run {}/{runs}: one file", run + 1);
                    single.push(flood_under_baton(&mut flat, &id, size, limit).await?);
                    verify(&flat.out_log(&id), size, &expected).await?;
                }
            }
        }
        Ok((rolled, single, segments))
    }
    .await;
    let closed_rolling = rolling.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let closed_flat = flat.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let (rolled, single, segments) = measured?;
    closed_rolling?;
    closed_flat?;
    let mbps = |secs: f64| size as f64 / 1e6 / secs;
    let med = |v: &[f64]| median(v).ok_or("no rolling samples");
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("output MB/s rolling every 64 MiB, median of {runs}"),
                mbps(med(&rolled)?),
                Some(mbps(med(&single)?)),
                Target::RatioAtLeast(0.95),
            ),
            Row::new(
                format!("output MB/s rolling every 64 MiB, best of {runs}"),
                mbps(best(&rolled)),
                Some(mbps(best(&single))),
                Target::RatioAtLeast(0.95),
            ),
        ],
        notes: vec![format!(
            "rolling: {size} bytes per run, runs interleaved (each side first in every other run); baseline = the same flood under a \
             conductor with max_log_size = 0 (one file); segments per rolled log: {segments:?}; \
             every log checksummed across its segments (sha256 {})",
            hex(&expected)
        )],
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_hash_matches_written_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let size = (1 << 20) + 12_345;
        let mut file = std::fs::File::create(&path).expect("create");
        stand_in_agent::write_flood(&mut file, size).expect("write");
        drop(file);
        let (len, digest) = sha256_log(&path).expect("hash");
        assert_eq!(len, size);
        assert_eq!(digest, sha256_flood(size));
        assert_ne!(digest, sha256_flood(size - 1));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn a_rolled_log_hashes_as_the_whole_flood() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.out.log");
        let size = (1 << 20) + 12_345;
        let limits = baton_core::seglog::Limits {
            max_size: 100_000,
            keep: None,
        };
        let mut log = baton_core::seglog::RollingWriter::open(&path, limits).expect("open");
        stand_in_agent::write_flood(&mut log, size).expect("write");
        drop(log);
        assert!(baton_core::seglog::segments(&path).expect("list").len() > 10);
        assert_eq!(sha256_log(&path).expect("hash"), (size, sha256_flood(size)));
    }
}
