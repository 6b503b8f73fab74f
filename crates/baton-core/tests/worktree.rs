//! Sessions in git worktrees of their own, against real git repositories:
//! parallel agents that never see each other's files, the user's checkout
//! untouched, restarts in the same worktree, clean ones removed with their
//! branch kept, dirty ones kept, and every bad input a `spawn_error` that
//! leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use baton_config::{SessionSpec, WorktreeSpec};
use baton_core::SessionState::*;
use baton_core::eventlog::{Event, Record, WorktreeSummary};
use common::*;
use sha2::{Digest, Sha256};

/// Runs git in `dir`; panics with its stderr when it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
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

/// A repository at `<dir>/repo` on `main` with one commit.
fn repo(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Test"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    std::fs::write(repo.join(".gitignore"), "build/\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "first"]);
    // What git prints is the real path (the temp dir may be a symlink).
    PathBuf::from(git(&repo, &["rev-parse", "--show-toplevel"]))
}

/// A session running `sh -c script` in `workdir` with a worktree.
fn in_worktree(name: &str, workdir: &Path, script: &str, wt: WorktreeSpec) -> SessionSpec {
    let mut spec = SessionSpec::command(id(name), vec!["sh".into(), "-c".into(), script.into()]);
    spec.workdir = Some(workdir.to_owned());
    spec.worktree = Some(wt);
    spec
}

fn sha(path: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The user's checkout as a person would check it: HEAD, branch, status, index.
fn checkout_state(repo: &Path) -> (String, String, String, String) {
    (
        git(repo, &["rev-parse", "HEAD"]),
        git(repo, &["symbolic-ref", "--short", "HEAD"]),
        git(repo, &["status", "--porcelain", "--untracked-files=all"]),
        sha(&repo.join(".git/index")),
    )
}

fn ended(records: &[Record], id: &str) -> Option<Event> {
    records
        .iter()
        .filter(|r| r.session.as_deref() == Some(id))
        .find(|r| {
            matches!(
                r.event,
                Event::WorktreeRemoved { .. } | Event::WorktreeKept { .. }
            )
        })
        .map(|r| r.event.clone())
}

async fn wait_worktree_end(h: &Harness, id: &str) -> Event {
    let rec = h
        .wait_for(&format!("the end of {id}'s worktree"), |r| {
            r.session.as_deref() == Some(id)
                && matches!(
                    r.event,
                    Event::WorktreeRemoved { .. } | Event::WorktreeKept { .. }
                )
        })
        .await;
    rec.event
}

fn removed(event: &Event) -> &WorktreeSummary {
    match event {
        Event::WorktreeRemoved { summary } => summary,
        other => panic!("expected worktree_removed, got {other:?}"),
    }
}

fn spawn_error(h: &Harness, id: &str) -> (String, String) {
    h.session_records(id)
        .into_iter()
        .find_map(|r| match r.event {
            Event::SpawnError { missing, message } => Some((missing, message)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no spawn_error for {id}:\n{}", h.dump()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_sessions_commit_on_their_own_branches_and_never_see_each_other() {
    let h = Harness::new(|_| {});
    let repo = repo(h.dir.path());
    let sync = h.dir.path().join("sync");
    std::fs::create_dir(&sync).unwrap();
    let before = checkout_state(&repo);
    // Each agent writes its file, waits until all three have, checks that
    // none of the others' files is in its tree, commits and says where it ran.
    let script = format!(
        "set -e; echo \"$BATON_SESSION_ID\" > \"$BATON_SESSION_ID.txt\"; touch {sync}/$BATON_SESSION_ID; \
         while [ $(ls {sync} | wc -l) -lt 3 ]; do sleep 0.05; done; \
         for o in a b c; do [ $o = \"$BATON_SESSION_ID\" ] || [ ! -e $o.txt ] || exit 9; done; \
         git add \"$BATON_SESSION_ID.txt\"; git commit -qm \"work of $BATON_SESSION_ID\"; pwd",
        sync = sync.display()
    );
    for name in ["a", "b", "c"] {
        let mut spec = in_worktree(name, &repo, &script, WorktreeSpec::default());
        if name == "c" {
            // A tmux pane starts in its worktree too.
            spec.backend = baton_config::Backend::Tmux;
        }
        h.spawn(spec).await;
    }
    for name in ["a", "b", "c"] {
        assert_eq!(h.wait_terminal(name).await, Completed, "{}", h.dump());
    }
    let wt_dir = repo.with_file_name("repo.baton-worktrees");
    for name in ["a", "b", "c"] {
        let end = wait_worktree_end(&h, name).await;
        let summary = removed(&end);
        let path = wt_dir.join(name);
        assert_eq!(summary.path, path.display().to_string());
        assert_eq!(summary.branch, format!("baton/{name}"));
        assert_eq!(
            (
                summary.ahead,
                summary.files,
                summary.insertions,
                summary.deletions
            ),
            (1, 1, 1, 0)
        );
        assert_eq!(summary.base_commit, before.0);
        // The agent ran in its worktree, and its run's record says so.
        let out = String::from_utf8(h.out_log(name)).unwrap();
        assert_eq!(out.trim(), path.display().to_string());
        let workdir = h
            .session_records(name)
            .into_iter()
            .find_map(|r| match r.event {
                Event::Spawn { workdir, .. } => Some(workdir),
                _ => None,
            })
            .unwrap();
        assert_eq!(workdir, path.display().to_string());
        // Removed, its branch and commit kept.
        assert!(!path.exists(), "{} is still there", path.display());
        assert_eq!(
            git(&repo, &["show", &format!("baton/{name}:{name}.txt")]),
            name
        );
        assert_eq!(
            git(&repo, &["rev-parse", &format!("baton/{name}")]),
            summary.head.clone().unwrap()
        );
    }
    assert!(!wt_dir.exists(), "the empty worktrees dir is removed too");
    // The user's checkout, index and HEAD are untouched.
    assert_eq!(checkout_state(&repo), before);
    assert_eq!(
        git(&repo, &["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_goes_on_in_the_same_worktree_and_a_dirty_one_is_kept() {
    let h = Harness::new(|_| {});
    let repo = repo(h.dir.path());
    let sub = repo.join("src");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("lib.rs"), "fn main() {}\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "src"]);
    // The first run leaves work in progress and crashes; the second finds
    // it where it left it, changes a tracked file and ends.
    let script = "if [ \"$BATON_ATTEMPT\" = 1 ]; then echo wip > notes.txt; exit 3; fi; \
                  grep -q wip notes.txt || exit 7; echo more >> lib.rs; pwd";
    let mut spec = in_worktree("w", &sub, script, WorktreeSpec::default());
    spec.max_restarts = Some(2);
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("w").await, Completed, "{}", h.dump());
    let made: Vec<bool> = h
        .session_records("w")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Worktree { created, .. } => Some(created),
            _ => None,
        })
        .collect();
    assert_eq!(made, [true], "made once, reused by the restart");
    let path = repo.with_file_name("repo.baton-worktrees").join("w");
    // The agent ran in the workdir's place inside the worktree.
    let out = String::from_utf8(h.out_log("w")).unwrap();
    assert_eq!(out.trim(), path.join("src").display().to_string());
    match wait_worktree_end(&h, "w").await {
        Event::WorktreeKept { summary, reason } => {
            assert_eq!(reason, "1 uncommitted change, 1 untracked file");
            assert_eq!(
                (summary.uncommitted, summary.untracked, summary.ahead),
                (1, 1, 0)
            );
        }
        other => panic!("expected worktree_kept, got {other:?}"),
    }
    // Kept exactly as the agent left it, and no longer locked.
    assert_eq!(
        std::fs::read_to_string(path.join("src/notes.txt")).unwrap(),
        "wip\n"
    );
    assert!(
        std::fs::read_to_string(path.join("src/lib.rs"))
            .unwrap()
            .ends_with("more\n")
    );
    assert!(!git(&repo, &["worktree", "list", "--porcelain"]).contains("locked"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_runs_once_and_copies_come_in_and_go_out_unchanged() {
    let h = Harness::new(|_| {});
    let repo = repo(h.dir.path());
    std::fs::write(repo.join(".env"), "TOKEN=local\n").unwrap();
    std::fs::create_dir(repo.join("conf")).unwrap();
    std::fs::write(repo.join("conf/local.toml"), "x = 1\n").unwrap();
    let counter = h.dir.path().join("setups");
    let wt = WorktreeSpec {
        setup: Some(vec![
            "sh".into(),
            "-c".into(),
            format!(
                "echo setup >> {}; mkdir -p build; echo made > build/out; echo setup-said-hi",
                counter.display()
            ),
        ]),
        copy: vec![".env".into(), "conf".into()],
        ..WorktreeSpec::default()
    };
    let script = "grep -q TOKEN=local .env && [ -f conf/local.toml ] && [ -f build/out ] || exit 7; \
                  [ \"$BATON_ATTEMPT\" = 1 ] && exit 3; echo agent-done";
    let mut spec = in_worktree("s", &repo, script, wt);
    spec.max_restarts = Some(2);
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("s").await, Completed, "{}", h.dump());
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "setup\n",
        "setup ran once"
    );
    let out = String::from_utf8(h.out_log("s")).unwrap();
    assert!(out.starts_with("setup-said-hi\n"), "{out}");
    assert!(out.ends_with("agent-done\n"), "{out}");
    let copied = h
        .session_records("s")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Worktree { copied, .. } => Some(copied),
            _ => None,
        })
        .unwrap();
    assert_eq!(copied, [".env", "conf"]);
    // Only baton's unchanged copies and ignored output were in it: removed.
    removed(&wait_worktree_end(&h, "s").await);
    // The user's own files are where they were.
    assert_eq!(
        std::fs::read_to_string(repo.join(".env")).unwrap(),
        "TOKEN=local\n"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_spawn_errors_that_leave_nothing_behind() {
    let h = Harness::new(|_| {});
    let repo = repo(h.dir.path());
    let plain = h.dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    // Someone else's locked worktree at the place of session `locked`.
    let wt_dir = repo.with_file_name("repo.baton-worktrees");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "theirs",
            &wt_dir.join("locked").display().to_string(),
        ],
    );
    git(
        &repo,
        &[
            "worktree",
            "lock",
            "--reason",
            "in use by a person",
            &wt_dir.join("locked").display().to_string(),
        ],
    );
    let before_branches = git(&repo, &["branch", "--format=%(refname:short)"]);
    let with = |base: Option<&str>, branch: Option<&str>| WorktreeSpec {
        base: base.map(Into::into),
        branch: branch.map(Into::into),
        ..WorktreeSpec::default()
    };
    let cases: Vec<(&str, SessionSpec, &str)> = vec![
        (
            "norepo",
            in_worktree("norepo", &plain, "true", WorktreeSpec::default()),
            "is not inside a git repository's checkout",
        ),
        (
            "nobase",
            in_worktree("nobase", &repo, "true", with(Some("no-such-ref"), None)),
            "`worktree.base` `no-such-ref` is not a commit in",
        ),
        (
            "busy",
            in_worktree("busy", &repo, "true", with(None, Some("main"))),
            "branch `main` of",
        ),
        (
            "locked",
            in_worktree("locked", &repo, "true", WorktreeSpec::default()),
            "is locked (in use by a person)",
        ),
        (
            "badsetup",
            in_worktree(
                "badsetup",
                &repo,
                "true",
                WorktreeSpec {
                    setup: Some(vec![
                        "sh".into(),
                        "-c".into(),
                        "echo it broke >&2; exit 4".into(),
                    ]),
                    ..WorktreeSpec::default()
                },
            ),
            "exited with code 4",
        ),
        (
            // A spec built by hand skips the manifest's branch check; git's own refuses it.
            "hostile",
            in_worktree(
                "hostile",
                &repo,
                "true",
                with(None, Some("../../../escaped")),
            ),
            "git refuses the branch name `../../../escaped`",
        ),
        (
            "nocopy",
            in_worktree(
                "nocopy",
                &repo,
                "true",
                WorktreeSpec {
                    copy: vec![".env.missing".into()],
                    ..WorktreeSpec::default()
                },
            ),
            "`worktree.copy` lists `.env.missing`, which is not in",
        ),
    ];
    for (name, spec, _) in &cases {
        h.spawn(spec.clone()).await;
        assert_eq!(h.wait_terminal(name).await, Dead, "{}", h.dump());
    }
    for (name, _, needle) in &cases {
        let (missing, message) = spawn_error(&h, name);
        assert_eq!(missing, "worktree", "{name}: {message}");
        assert!(message.contains(needle), "{name}: {message}");
    }
    let (_, setup) = spawn_error(&h, "badsetup");
    assert!(setup.contains("(last line: it broke)"), "{setup}");
    assert!(setup.contains("sh -c"), "{setup}");
    let (_, busy) = spawn_error(&h, "busy");
    assert!(
        busy.contains(&format!("is checked out at `{}`", repo.display())),
        "{busy}"
    );
    // Nothing half-made: no worktree but the locked one, no new branch.
    let listed = git(&repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(listed.matches("worktree ").count(), 2, "{listed}");
    assert_eq!(
        git(&repo, &["branch", "--format=%(refname:short)"]),
        before_branches
    );
    let left: Vec<_> = std::fs::read_dir(&wt_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["locked"]);
    // Nothing escaped beside the checkout either.
    let beside: Vec<_> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(!beside.iter().any(|n| n == "escaped"), "{beside:?}");
    // A dead session that never had a worktree records no worktree end.
    let records = h.finish().await;
    for (name, _, _) in &cases {
        assert!(ended(&records, name).is_none(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_setup_stops_it_and_takes_the_half_made_worktree_away() {
    let h = Harness::new(|_| {});
    let repo = repo(h.dir.path());
    let started = h.dir.path().join("setup-started");
    let wt = WorktreeSpec {
        setup: Some(vec![
            "sh".into(),
            "-c".into(),
            format!("touch {}; sleep 30", started.display()),
        ]),
        ..WorktreeSpec::default()
    };
    h.spawn(in_worktree("k", &repo, "true", wt)).await;
    let deadline = std::time::Instant::now() + DEADLINE;
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "setup never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let t0 = std::time::Instant::now();
    h.conductor.kill(&id("k")).await.expect("kill");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "the kill waited for setup"
    );
    assert_eq!(h.wait_terminal("k").await, Dead);
    let records = h.session_records("k");
    assert!(
        records
            .iter()
            .any(|r| matches!(&r.event, Event::Dead { reason, .. } if reason == "user_kill")),
        "{}",
        h.dump()
    );
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.event, Event::Spawn { .. })),
        "the agent never ran"
    );
    assert!(
        !repo
            .with_file_name("repo.baton-worktrees")
            .join("k")
            .exists()
    );
    assert_eq!(git(&repo, &["branch", "--format=%(refname:short)"]), "main");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worktree_deleted_by_hand_is_made_again_on_its_branch() {
    let base = tempfile::tempdir().unwrap();
    let repo = repo(base.path());
    let h = Harness::new(|_| {});
    // A first life of the session leaves a kept worktree with a commit.
    let script = "if [ ! -e mine.txt ]; then echo 1 > mine.txt; git add mine.txt; git commit -qm one; \
                  echo draft > draft.txt; fi; cat mine.txt";
    h.spawn(in_worktree("again", &repo, script, WorktreeSpec::default()))
        .await;
    assert_eq!(h.wait_terminal("again").await, Completed, "{}", h.dump());
    assert!(matches!(
        wait_worktree_end(&h, "again").await,
        Event::WorktreeKept { .. }
    ));
    // The user deletes the directory by hand; git still lists it (prunable).
    let path = repo.with_file_name("repo.baton-worktrees").join("again");
    std::fs::remove_dir_all(&path).unwrap();
    let records = h.finish().await;
    assert!(
        records
            .iter()
            .any(|r| matches!(r.event, Event::WorktreeKept { .. }))
    );
    // Spawned again (a new conductor): made again from its branch, work there.
    let h = Harness::new(|_| {});
    h.spawn(in_worktree("again", &repo, script, WorktreeSpec::default()))
        .await;
    assert_eq!(h.wait_terminal("again").await, Completed, "{}", h.dump());
    assert_eq!(String::from_utf8(h.out_log("again")).unwrap(), "1\n");
    h.finish().await;
}
