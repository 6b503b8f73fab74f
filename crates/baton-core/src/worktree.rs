//! A git worktree per session: made before its first run, reused by every
//! later run, and removed at its end only when it holds nothing uncommitted.
//!
//! Everything goes through the user's own `git` (their version, config and
//! hooks), through its porcelain: `rev-parse`, `worktree add/list/lock/
//! unlock/remove`, `status --porcelain`, `diff --numstat`. Nothing here
//! reads git's files.
//!
//! A session's worktree is `<checkout>.baton-worktrees/<id>` beside the
//! user's checkout (never inside it); its path comes from the session id
//! alone, which is a safe file name by construction, so no branch or id can
//! point it anywhere else. While a session may run, its worktree is locked
//! (`git worktree lock`) with a reason naming the session and the logs dir,
//! so neither `git worktree remove`/`prune` nor another conductor takes it
//! away; the reason also keeps the base commit, and says when the setup
//! command has not finished yet.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use baton_config::{SessionId, WorktreeSpec};
use baton_proto::record::WorktreeSummary;

/// The suffix of the directory beside a checkout that holds baton's worktrees of it.
pub const DIR_SUFFIX: &str = ".baton-worktrees";

/// The tail of a lock reason while the setup command has not succeeded.
const SETTING_UP: &str = " setting up";

/// One git mutation at a time in this process: parallel sessions of one
/// repository would otherwise race for its ref and worktree locks.
static MUTATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A session's worktree, as its `worktree` record states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worktree {
    /// The worktree's top level.
    pub path: PathBuf,
    /// The top level of the user's checkout.
    pub repo: PathBuf,
    /// The branch made or checked out for the session.
    pub branch: String,
    /// The base as given.
    pub base: String,
    /// The commit the branch started from.
    pub base_commit: String,
    /// Paths copied in from the checkout, relative to its top level.
    pub copied: Vec<PathBuf>,
}

impl Worktree {
    /// The worktree a `worktree` record states; `None` for any other record.
    pub fn from_record(event: &baton_proto::record::Event) -> Option<Worktree> {
        match event {
            baton_proto::record::Event::Worktree {
                path,
                repo,
                branch,
                base,
                base_commit,
                copied,
                ..
            } => Some(Worktree {
                path: path.into(),
                repo: repo.into(),
                branch: branch.clone(),
                base: base.clone(),
                base_commit: base_commit.clone(),
                copied: copied.iter().map(Into::into).collect(),
            }),
            _ => None,
        }
    }
}

/// A worktree ready for a run.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The worktree.
    pub worktree: Worktree,
    /// Where the agent runs: the session's workdir, at the same place
    /// inside the worktree as it is inside the checkout.
    pub cwd: PathBuf,
    /// Made now; its setup command (if any) still has to run.
    pub created: bool,
    /// The branch was made now too (a rollback deletes it).
    pub new_branch: bool,
}

/// Why a worktree could not be made ready. Nothing half-made is left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorktreeError {
    /// What went wrong, naming the repository, ref or branch and what to do.
    pub message: String,
    /// The session's workdir itself is missing (not a worktree matter).
    pub workdir_missing: bool,
}

fn refuse(message: impl Into<String>) -> WorktreeError {
    WorktreeError {
        message: message.into(),
        workdir_missing: false,
    }
}

/// What the session's lock reason says: `owner` is
/// `baton session <id> (<logs dir>)`.
pub fn lock_reason(owner: &str, base_commit: &str, setting_up: bool) -> String {
    let tail = if setting_up { SETTING_UP } else { "" };
    format!("{owner} base {base_commit}{tail}")
}

/// The owner tag of session `id` of the conductor whose logs are in `logs_dir`.
pub fn owner_tag(id: &SessionId, logs_dir: &Path) -> String {
    format!("baton session {id} ({})", logs_dir.display())
}

/// The directory that holds baton's worktrees of the checkout `repo`.
pub fn worktrees_dir(repo: &Path) -> Option<PathBuf> {
    let name = repo.file_name()?;
    let mut dir = name.to_os_string();
    dir.push(DIR_SUFFIX);
    Some(repo.parent()?.join(dir))
}

/// Runs git in `dir`, never through a shell, with nothing from the
/// conductor's environment that would point it at another repository.
async fn git<I, S>(dir: &Path, args: I) -> Result<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_COMMON_DIR")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("hint:"))
            .unwrap_or("git failed without a message");
        Err(line.to_owned())
    }
}

/// One entry of `git worktree list --porcelain -z`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub path: PathBuf,
    pub branch: Option<String>,
    pub locked: Option<String>,
    pub prunable: bool,
}

/// Parses `git worktree list --porcelain -z`: NUL-terminated `key value`
/// fields, an empty field between worktrees.
pub(crate) fn parse_list(text: &str) -> Vec<Listed> {
    let mut all = Vec::new();
    let mut cur: Option<Listed> = None;
    for field in text.split('\0') {
        if field.is_empty() {
            all.extend(cur.take());
            continue;
        }
        let (key, value) = field.split_once(' ').unwrap_or((field, ""));
        match key {
            "worktree" => {
                all.extend(cur.take());
                cur = Some(Listed {
                    path: PathBuf::from(value),
                    ..Listed::default()
                });
            }
            "branch" => {
                if let Some(c) = &mut cur {
                    c.branch = Some(value.strip_prefix("refs/heads/").unwrap_or(value).into());
                }
            }
            "locked" => {
                if let Some(c) = &mut cur {
                    c.locked = Some(value.to_owned());
                }
            }
            "prunable" => {
                if let Some(c) = &mut cur {
                    c.prunable = true;
                }
            }
            _ => {}
        }
    }
    all.extend(cur);
    all
}

async fn list(repo: &Path) -> Result<Vec<Listed>, WorktreeError> {
    git(repo, ["worktree", "list", "--porcelain", "-z"])
        .await
        .map(|text| parse_list(&text))
        .map_err(|e| {
            refuse(format!(
                "cannot list the worktrees of `{}`: {e}",
                repo.display()
            ))
        })
}

/// The top level of the checkout `dir` is in, and `dir`'s place inside it.
async fn checkout_of(dir: &Path) -> Result<(PathBuf, PathBuf), WorktreeError> {
    if !dir.is_dir() {
        return Err(WorktreeError {
            message: format!("workdir `{}` does not exist", dir.display()),
            workdir_missing: true,
        });
    }
    let out = git(dir, ["rev-parse", "--show-toplevel", "--show-prefix"])
        .await
        .map_err(|e| {
            refuse(format!(
                "workdir `{}` is not inside a git repository's checkout ({e}); `worktree` \
                 needs one: run `git init` there and commit, or drop `worktree`",
                dir.display()
            ))
        })?;
    let mut lines = out.lines();
    let top = lines.next().unwrap_or_default();
    let prefix = lines.next().unwrap_or_default();
    if top.is_empty() {
        return Err(refuse(format!(
            "workdir `{}` is not inside a git checkout (a bare repository?); `worktree` needs one",
            dir.display()
        )));
    }
    Ok((PathBuf::from(top), PathBuf::from(prefix)))
}

/// The full hash of the commit `rev` names in `repo`, if it names one.
async fn commit_of(repo: &Path, rev: &str) -> Option<String> {
    git(
        repo,
        [
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .await
    .ok()
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty())
}

/// Makes session `id`'s worktree ready: finds it again, or makes it (branch
/// from `spec.base`, `copy` brought in). `owner` is [`owner_tag`]. A new
/// worktree stays marked "setting up" until [`setup_done`].
pub async fn prepare(
    id: &SessionId,
    spec: &WorktreeSpec,
    workdir: &Path,
    owner: &str,
) -> Result<Prepared, WorktreeError> {
    let (repo, prefix) = checkout_of(workdir).await?;
    let dir = worktrees_dir(&repo).ok_or_else(|| {
        refuse(format!(
            "the checkout `{}` has no parent directory to put worktrees beside it",
            repo.display()
        ))
    })?;
    let path = dir.join(id.as_str());
    let branch = spec.branch_for(id);
    let _guard = MUTATE.lock().await;
    let listed = list(&repo).await?;
    let mine = format!("{owner} base ");
    if let Some(found) = listed.iter().find(|l| l.path == path) {
        let usable = !found.prunable;
        let setting_up = found
            .locked
            .as_deref()
            .is_some_and(|r| r.starts_with(&mine) && r.ends_with(SETTING_UP));
        if let Some(reason) = found.locked.as_deref().filter(|r| !r.starts_with(&mine)) {
            return Err(refuse(format!(
                "the worktree `{}` is locked ({reason}); if nothing uses it any more, unlock it \
                 with `git -C {} worktree unlock {}`",
                path.display(),
                repo.display(),
                path.display()
            )));
        }
        if usable && !setting_up && found.branch.as_deref() != Some(branch.as_str()) {
            return Err(refuse(format!(
                "the worktree `{}` has {} checked out, not the session's branch `{branch}`; \
                 check `{branch}` out there again, or move that worktree away",
                path.display(),
                found
                    .branch
                    .as_deref()
                    .map_or("a detached HEAD".to_owned(), |b| format!("`{b}`"))
            )));
        }
        if usable {
            let base_commit = match found.locked.as_deref() {
                Some(reason) if reason.starts_with(&mine) => {
                    let rest = &reason[mine.len()..];
                    if let Some(base) = rest.strip_suffix(SETTING_UP) {
                        // Its setup never finished: the agent never ran in it.
                        let half = Prepared {
                            worktree: Worktree {
                                path: path.clone(),
                                repo: repo.clone(),
                                branch: branch.clone(),
                                base: spec.base_or_head().to_owned(),
                                base_commit: base.to_owned(),
                                copied: Vec::new(),
                            },
                            cwd: path.clone(),
                            created: true,
                            new_branch: false,
                        };
                        remove_forced(&half).await?;
                        let listed = list(&repo).await?;
                        return make(spec, repo, prefix, path, branch, owner, listed).await;
                    }
                    rest.to_owned()
                }
                // Unlocked (a lock of anyone else was refused above).
                _ => {
                    let base = spec.base_or_head();
                    let base_commit = match commit_of(&repo, base).await {
                        Some(b) => git(&repo, ["merge-base", &b, &format!("refs/heads/{branch}")])
                            .await
                            .map(|s| s.trim().to_owned())
                            .unwrap_or(b),
                        None => String::new(),
                    };
                    git(
                        &repo,
                        [
                            OsStr::new("worktree"),
                            OsStr::new("lock"),
                            OsStr::new("--reason"),
                            OsStr::new(&lock_reason(owner, &base_commit, false)),
                            path.as_os_str(),
                        ],
                    )
                    .await
                    .map_err(|e| refuse(format!("cannot lock `{}`: {e}", path.display())))?;
                    base_commit
                }
            };
            let cwd = inside(&path, &prefix);
            return Ok(Prepared {
                worktree: Worktree {
                    path,
                    repo,
                    branch,
                    base: spec.base_or_head().to_owned(),
                    base_commit,
                    copied: spec.copy.clone(),
                },
                cwd,
                created: false,
                new_branch: false,
            });
        }
        if found.locked.is_some() {
            return Err(refuse(format!(
                "the worktree `{}` is gone but git still has it, locked ({}); run `git -C {} \
                 worktree unlock {}` then `git worktree prune`",
                path.display(),
                found.locked.as_deref().unwrap_or_default(),
                repo.display(),
                path.display()
            )));
        }
        // Its directory was deleted: git's record of it only is cleared.
        git(&repo, ["worktree", "prune"])
            .await
            .map_err(|e| refuse(format!("git worktree prune in `{}`: {e}", repo.display())))?;
        // Its branch is checked out nowhere now.
        let listed = list(&repo).await?;
        return make(spec, repo, prefix, path, branch, owner, listed).await;
    }
    make(spec, repo, prefix, path, branch, owner, listed).await
}

/// Makes a new worktree at `path` (the caller holds [`MUTATE`]).
async fn make(
    spec: &WorktreeSpec,
    repo: PathBuf,
    prefix: PathBuf,
    path: PathBuf,
    branch: String,
    owner: &str,
    listed: Vec<Listed>,
) -> Result<Prepared, WorktreeError> {
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(refuse(format!(
            "`{}` exists and is not a worktree of `{}`; move it away (baton never deletes it)",
            path.display(),
            repo.display()
        )));
    }
    for copy in &spec.copy {
        if std::fs::symlink_metadata(repo.join(copy)).is_err() {
            return Err(refuse(format!(
                "`worktree.copy` lists `{}`, which is not in `{}`",
                copy.display(),
                repo.display()
            )));
        }
    }
    let base = spec.base_or_head();
    let Some(mut base_commit) = commit_of(&repo, base).await else {
        let empty = commit_of(&repo, "HEAD").await.is_none();
        return Err(refuse(if empty {
            format!(
                "the repository `{}` has no commit yet; commit something before starting a \
                 session in a worktree of it",
                repo.display()
            )
        } else {
            format!(
                "`worktree.base` `{base}` is not a commit in `{}`; name a branch, tag or commit \
                 that exists there (`git -C {} log -1 {base}` shows it)",
                repo.display(),
                repo.display()
            )
        }));
    };
    git(&repo, ["check-ref-format", "--branch", &branch])
        .await
        .map_err(|e| refuse(format!("git refuses the branch name `{branch}`: {e}")))?;
    let exists = commit_of(&repo, &format!("refs/heads/{branch}"))
        .await
        .is_some();
    if exists {
        if let Some(other) = listed
            .iter()
            .find(|l| l.branch.as_deref() == Some(branch.as_str()))
        {
            return Err(refuse(format!(
                "branch `{branch}` of `{}` is checked out at `{}`; give the session another \
                 `worktree.branch`, or switch that checkout to another branch",
                repo.display(),
                other.path.display()
            )));
        }
        // The branch goes on from where it is; "ahead" counts from where
        // it left the base.
        if let Ok(fork) = git(
            &repo,
            ["merge-base", &base_commit, &format!("refs/heads/{branch}")],
        )
        .await
        {
            base_commit = fork.trim().to_owned();
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| refuse(format!("cannot create `{}`: {e}", dir.display())))?;
    }
    let reason = lock_reason(owner, &base_commit, true);
    let mut args: Vec<&OsStr> = ["worktree", "add", "--quiet", "--lock", "--reason"]
        .into_iter()
        .map(OsStr::new)
        .collect();
    args.push(OsStr::new(&reason));
    if !exists {
        args.extend(["--no-track", "-b", &branch].map(OsStr::new));
    }
    args.push(OsStr::new("--"));
    args.push(path.as_os_str());
    args.push(OsStr::new(if exists { &branch } else { &base_commit }));
    if let Err(e) = git(&repo, &args).await {
        remove_empty_dir(path.parent());
        return Err(refuse(format!(
            "git worktree add `{}` (branch `{branch}`) in `{}` failed: {e}",
            path.display(),
            repo.display()
        )));
    }
    let prepared = Prepared {
        cwd: inside(&path, &prefix),
        worktree: Worktree {
            path,
            repo,
            branch,
            base: base.to_owned(),
            base_commit,
            copied: spec.copy.clone(),
        },
        created: true,
        new_branch: !exists,
    };
    let brought = bring_copies(&prepared.worktree);
    let problem = match brought {
        Err(e) => Some(e),
        Ok(()) if !prepared.cwd.is_dir() => Some(format!(
            "the session's workdir is `{}` in the checkout, which the branch does not have \
             (untracked?); commit it, or give a workdir the branch has",
            prefix.display()
        )),
        Ok(()) => None,
    };
    if let Some(problem) = problem {
        let _ = remove_forced(&prepared).await;
        return Err(refuse(problem));
    }
    Ok(prepared)
}

/// The setup command succeeded (or there was none): the worktree is the
/// session's for good.
pub async fn setup_done(prepared: &Prepared, owner: &str) -> Result<(), WorktreeError> {
    let wt = &prepared.worktree;
    let _guard = MUTATE.lock().await;
    let path = wt.path.as_os_str();
    let relock = async {
        git(
            &wt.repo,
            [OsStr::new("worktree"), OsStr::new("unlock"), path],
        )
        .await?;
        let reason = lock_reason(owner, &wt.base_commit, false);
        git(
            &wt.repo,
            [
                OsStr::new("worktree"),
                OsStr::new("lock"),
                OsStr::new("--reason"),
                OsStr::new(&reason),
                path,
            ],
        )
        .await
    };
    relock.await.map(|_| ()).map_err(|e| {
        refuse(format!(
            "cannot mark the worktree `{}` ready: {e}",
            wt.path.display()
        ))
    })
}

/// Undoes a worktree this run made and no agent ran in: removes it (with
/// what setup or the copies put there) and the branch if it was made too.
pub async fn rollback(prepared: &Prepared) -> Result<(), WorktreeError> {
    let _guard = MUTATE.lock().await;
    remove_forced(prepared).await
}

async fn remove_forced(prepared: &Prepared) -> Result<(), WorktreeError> {
    let wt = &prepared.worktree;
    // Twice forced: removes a locked worktree with untracked files. Only
    // ever for one that no agent has run in.
    let removed = git(
        &wt.repo,
        [
            OsStr::new("worktree"),
            OsStr::new("remove"),
            OsStr::new("--force"),
            OsStr::new("--force"),
            wt.path.as_os_str(),
        ],
    )
    .await;
    if prepared.new_branch {
        let _ = git(&wt.repo, ["branch", "-D", "--", &wt.branch]).await;
    }
    remove_empty_dir(wt.path.parent());
    removed.map(|_| ()).map_err(|e| {
        refuse(format!(
            "cannot remove the half-made worktree `{}`: {e}",
            wt.path.display()
        ))
    })
}

/// `dir` joined with `rel` as git prints it (`src/`), without a trailing `/`.
fn inside(dir: &Path, rel: &Path) -> PathBuf {
    let mut path = dir.to_path_buf();
    path.extend(rel.components());
    path
}

fn remove_empty_dir(dir: Option<&Path>) {
    if let Some(dir) = dir {
        // Fails, as it should, while another worktree is in it.
        let _ = std::fs::remove_dir(dir);
    }
}

/// Copies `wt.copied` from the checkout into the worktree.
fn bring_copies(wt: &Worktree) -> Result<(), String> {
    for rel in &wt.copied {
        let to = wt.path.join(rel);
        if std::fs::symlink_metadata(&to).is_ok() {
            return Err(format!(
                "`worktree.copy` lists `{}`, which the branch already has; copy only untracked \
                 files",
                rel.display()
            ));
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        copy_tree(&wt.repo.join(rel), &to)
            .map_err(|e| format!("cannot copy `{}` into the worktree: {e}", rel.display()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if meta.is_dir() {
        std::fs::create_dir(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(|_| ())
    }
}

/// True if `rel` in the worktree is still exactly baton's copy of the
/// checkout's file (a file or symlink with the same content).
fn unchanged_copy(wt: &Worktree, rel: &Path) -> bool {
    let ours = wt.path.join(rel);
    let theirs = wt.repo.join(rel);
    let (Ok(a), Ok(b)) = (
        std::fs::symlink_metadata(&ours),
        std::fs::symlink_metadata(&theirs),
    ) else {
        return false;
    };
    if a.file_type().is_symlink() || b.file_type().is_symlink() {
        return a.file_type().is_symlink()
            && b.file_type().is_symlink()
            && std::fs::read_link(&ours).ok() == std::fs::read_link(&theirs).ok();
    }
    a.is_file()
        && b.is_file()
        && a.len() == b.len()
        && matches!((std::fs::read(&ours), std::fs::read(&theirs)), (Ok(x), Ok(y)) if x == y)
}

/// A worktree as it is now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// The summary a `worktree_removed`/`worktree_kept` record carries.
    pub summary: WorktreeSummary,
    /// The checked-out branch, `None` when HEAD is detached.
    pub on_branch: Option<String>,
    /// A detached HEAD that the session's branch does not contain.
    pub stray_head: bool,
    /// Untracked files that are baton's unchanged copies.
    pub copies: Vec<PathBuf>,
    /// The directory exists.
    pub exists: bool,
}

impl Inspection {
    /// Why the worktree may not be removed; `None`: it holds nothing that
    /// is not in a branch.
    pub fn keep_reason(&self) -> Option<String> {
        let s = &self.summary;
        if !self.exists {
            return Some("its directory is gone (removed outside baton)".into());
        }
        let mut why = Vec::new();
        if s.uncommitted > 0 {
            why.push(format!(
                "{} uncommitted change{}",
                s.uncommitted,
                plural(s.uncommitted)
            ));
        }
        if s.untracked > 0 {
            why.push(format!(
                "{} untracked file{}",
                s.untracked,
                plural(s.untracked)
            ));
        }
        if self.stray_head {
            why.push(format!(
                "HEAD is detached at {} and not on `{}`",
                s.head.as_deref().map_or("?", |h| &h[..h.len().min(12)]),
                s.branch
            ));
        }
        (!why.is_empty()).then(|| why.join(", "))
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Looks at `wt` now: its head, what it holds beyond its base, and what is
/// not committed.
pub async fn inspect(wt: &Worktree) -> Inspection {
    let mut summary = WorktreeSummary {
        path: wt.path.display().to_string(),
        branch: wt.branch.clone(),
        base_commit: wt.base_commit.clone(),
        ..WorktreeSummary::default()
    };
    if !wt.path.is_dir() {
        return Inspection {
            summary,
            ..Inspection::default()
        };
    }
    let dir = &wt.path;
    summary.head = git(dir, ["rev-parse", "--verify", "--quiet", "HEAD"])
        .await
        .ok()
        .map(|s| s.trim().to_owned());
    let on_branch = git(dir, ["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .ok()
        .map(|s| s.trim().to_owned());
    let base = wt.base_commit.as_str();
    if !base.is_empty() {
        if let Ok(n) = git(dir, ["rev-list", "--count", &format!("{base}..HEAD")]).await {
            summary.ahead = n.trim().parse().unwrap_or(0);
        }
        if let Ok(stat) = git(dir, ["diff", "--numstat", base, "HEAD", "--"]).await {
            for line in stat.lines() {
                let mut cols = line.split('\t');
                let (added, removed) = (cols.next(), cols.next());
                summary.files += 1;
                summary.insertions += added.and_then(|n| n.parse().ok()).unwrap_or(0);
                summary.deletions += removed.and_then(|n| n.parse().ok()).unwrap_or(0);
            }
        }
    }
    let mut copies = Vec::new();
    if let Ok(status) = git(
        dir,
        ["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )
    .await
    {
        let mut fields = status.split('\0');
        while let Some(entry) = fields.next() {
            if entry.len() < 4 {
                continue;
            }
            let (code, rel) = entry.split_at(3);
            if code.starts_with('R') || code.starts_with('C') {
                // A rename or copy names its source in the next field.
                fields.next();
            }
            if code == "?? " {
                let rel = Path::new(rel);
                let copied = wt.copied.iter().any(|c| rel.starts_with(c));
                if copied && unchanged_copy(wt, rel) {
                    copies.push(rel.to_path_buf());
                } else {
                    summary.untracked += 1;
                }
            } else {
                summary.uncommitted += 1;
            }
        }
    }
    let stray_head = on_branch.is_none()
        && match &summary.head {
            Some(head) => git(
                dir,
                [
                    "merge-base",
                    "--is-ancestor",
                    head,
                    &format!("refs/heads/{}", wt.branch),
                ],
            )
            .await
            .is_err(),
            None => false,
        };
    Inspection {
        summary,
        on_branch,
        stray_head,
        copies,
        exists: true,
    }
}

/// How a session's worktree ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Removed; its branch is kept.
    Removed(WorktreeSummary),
    /// Kept as it is, for `reason`.
    Kept {
        /// What the session left.
        summary: WorktreeSummary,
        /// Why it stays.
        reason: String,
    },
}

/// The session is over: unlocks its worktree, and removes it when it holds
/// nothing that is not in a branch (baton's unchanged copies are taken out
/// first). Never forces anything.
pub async fn finish(wt: &Worktree) -> Ending {
    let _guard = MUTATE.lock().await;
    let seen = inspect(wt).await;
    if seen.exists {
        let _ = git(
            &wt.repo,
            [
                OsStr::new("worktree"),
                OsStr::new("unlock"),
                wt.path.as_os_str(),
            ],
        )
        .await;
    }
    if let Some(reason) = seen.keep_reason() {
        return Ending::Kept {
            summary: seen.summary,
            reason,
        };
    }
    for rel in &seen.copies {
        let _ = std::fs::remove_file(wt.path.join(rel));
    }
    match git(
        &wt.repo,
        [
            OsStr::new("worktree"),
            OsStr::new("remove"),
            wt.path.as_os_str(),
        ],
    )
    .await
    {
        Ok(_) => {
            remove_empty_dir(wt.path.parent());
            Ending::Removed(seen.summary)
        }
        Err(e) => {
            // Put the copies back: the worktree stays usable as it was.
            for rel in &seen.copies {
                let _ = copy_tree(&wt.repo.join(rel), &wt.path.join(rel));
            }
            Ending::Kept {
                summary: seen.summary,
                reason: format!("git worktree remove refused: {e}"),
            }
        }
    }
}

/// Bytes under `dir`, symlinks not followed.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| disk_usage(&e.path()))
                .sum::<u64>()
        })
        .unwrap_or(0)
}

/// Commits the session's branch has that its base commit does not (`None`:
/// the branch is gone).
pub async fn branch_ahead(wt: &Worktree) -> Option<u64> {
    let range = format!("{}..refs/heads/{}", wt.base_commit, wt.branch);
    git(&wt.repo, ["rev-list", "--count", &range])
        .await
        .ok()
        .and_then(|n| n.trim().parse().ok())
}

/// Commits the base ref `base` has that `branch` does not (`None`: unknown).
pub async fn behind(wt: &Worktree) -> Option<u64> {
    let range = format!("refs/heads/{}..{}", wt.branch, wt.base);
    git(&wt.repo, ["rev-list", "--count", &range])
        .await
        .ok()
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_list_is_read_field_by_field() {
        let text = "worktree /r\0HEAD 1111\0branch refs/heads/main\0\0\
                    worktree /r.baton-worktrees/w1\0HEAD 2222\0branch refs/heads/baton/w1\0\
                    locked baton session w1 (/l) base 1111\0\0\
                    worktree /gone\0HEAD 3333\0detached\0prunable gitdir file points to non-existent location\0\0";
        let all = parse_list(text);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].branch.as_deref(), Some("main"));
        assert_eq!(all[1].path, Path::new("/r.baton-worktrees/w1"));
        assert_eq!(all[1].branch.as_deref(), Some("baton/w1"));
        assert_eq!(
            all[1].locked.as_deref(),
            Some("baton session w1 (/l) base 1111")
        );
        assert!(all[2].prunable && all[2].branch.is_none());
    }

    #[test]
    fn worktrees_live_beside_the_checkout() {
        assert_eq!(
            worktrees_dir(Path::new("/src/app")).unwrap(),
            Path::new("/src/app.baton-worktrees")
        );
        assert_eq!(worktrees_dir(Path::new("/")), None);
    }
}
