//! What the `baton` binary's integration tests share: where the binaries
//! are, and facts about processes and bytes.
#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

/// The `baton` binary under test.
pub fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// The stand-in agent, built next to `baton` by `cargo build --workspace`.
pub fn stand_in() -> String {
    let path = baton().with_file_name("stand-in-agent");
    assert!(
        path.exists(),
        "{} missing: build the workspace first",
        path.display()
    );
    path.display().to_string()
}

/// True once `pid` has no process left: gone, or a zombie waiting for a
/// reaper (gone for our purposes).
pub fn pid_is_gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Runs git in `dir`; panics with its stderr when it fails. Returns stdout, trimmed.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository at `dir` on `main` with one empty commit; its real path.
pub fn git_repo(dir: &std::path::Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "first"]);
    PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"]))
}

/// The text of `<logs>/events.jsonl`, every segment of it in order once it
/// rolled over (see `baton_core::seglog`).
#[allow(dead_code)]
pub fn events_text(logs: &std::path::Path) -> String {
    let path = logs.join("events.jsonl");
    let segments = baton_core::seglog::segments(&path).unwrap_or_default();
    if segments.is_empty() {
        return std::fs::read_to_string(&path).unwrap_or_default();
    }
    segments
        .iter()
        .map(|s| std::fs::read_to_string(&s.path).unwrap_or_default())
        .collect()
}
