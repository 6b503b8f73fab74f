//! `worktree`: a session that runs in a git worktree of its own, on a branch
//! of its own, so that agents working on one repository in parallel never
//! see each other's files.
//!
//! This module holds the setting's validated shape ([`WorktreeSpec`]) and
//! its checks, of the setting as a session table writes it. Creating,
//! reusing and removing worktrees is the engine's business (`baton_core::worktree`).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::model::SessionId;
use baton_proto::SpawnWorktree;

use crate::session::{SessionError, SessionField, Spans, argv_of};

/// The prefix of a session's default branch: `baton/<id>`.
pub const BRANCH_PREFIX: &str = "baton/";

/// The rule a `worktree.branch` must satisfy, as shown in error messages.
pub const BRANCH_NAME_RULE: &str = "a branch name is what `git check-ref-format --branch` \
     accepts, at most 200 bytes: no space, control character or any of ~ ^ : ? * [ \\, no `..`, \
     `@{` or `//`, no component starting with `.` or ending with `.lock`, not starting with `-` \
     or `/`, not ending with `/` or `.`, and not `@` or `HEAD`";

/// A session's `worktree` setting, validated.
///
/// `base` and `branch` never start with `-` (they are never read as an
/// option by git); `branch` satisfies [`BRANCH_NAME_RULE`]; `setup` is a
/// non-empty argv; every `copy` path is relative, non-empty and has no `..`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct WorktreeSpec {
    /// The commit the branch starts from, as git names it; `None`: the
    /// repository's `HEAD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The branch; `None`: `baton/<id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Run once, without a shell, in the new worktree before the first run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Vec<String>>,
    /// Untracked files or directories, relative to the repository's top
    /// level, copied into the new worktree (`.env`, local config).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<PathBuf>,
}

impl WorktreeSpec {
    /// The branch session `id` works on.
    pub fn branch_for(&self, id: &SessionId) -> String {
        match &self.branch {
            Some(branch) => branch.clone(),
            None => format!("{BRANCH_PREFIX}{id}"),
        }
    }

    /// The commit the branch starts from, as given (default `HEAD`).
    pub fn base_or_head(&self) -> &str {
        self.base.as_deref().unwrap_or("HEAD")
    }
}

/// True if `name` satisfies [`BRANCH_NAME_RULE`]: the rules of
/// `git check-ref-format --branch`, checked without running git.
pub fn valid_branch_name(name: &str) -> bool {
    let forbidden = |c: char| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    };
    !name.is_empty()
        && name.len() <= 200
        && name != "@"
        && name != "HEAD"
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains("@{")
        && !name.contains("//")
        && !name.chars().any(forbidden)
        && name
            .split('/')
            .all(|part| !part.starts_with('.') && !part.ends_with(".lock"))
}

/// Checks a session's `worktree` as written (`true` is a table with every
/// field left out): `owner` names the session in messages, `remote` is true
/// for a session on another host.
pub(crate) fn check_worktree(
    worktree: Option<SpawnWorktree>,
    spans: &Spans,
    id: &SessionId,
    owner: &str,
    remote: bool,
) -> Result<Option<WorktreeSpec>, SessionError> {
    let Some(worktree) = worktree else {
        return Ok(None);
    };
    let err = |path: &str, message: String| SessionError {
        field: SessionField::Worktree,
        at: spans.at(path).or_else(|| spans.at("worktree")),
        message,
    };
    if remote {
        return Err(err(
            "worktree",
            format!(
                "`worktree` in {owner} is for sessions on this machine; a remote session's \
                 checkout is on its host (leave `host` out, or drop `worktree`)"
            ),
        ));
    }
    let base = match worktree.base {
        Some(b) if b.is_empty() || b.starts_with('-') => {
            return Err(err(
                "worktree.base",
                format!(
                    "`worktree.base` in {owner} is `{}`; give a branch, tag or commit such as \
                     \"main\" or \"origin/main\" (not empty, not starting with `-`)",
                    b.escape_debug()
                ),
            ));
        }
        other => other,
    };
    let branch = match worktree.branch {
        Some(b) if !valid_branch_name(&b) => {
            return Err(err(
                "worktree.branch",
                format!(
                    "`worktree.branch` in {owner} is `{}`: {BRANCH_NAME_RULE}",
                    b.escape_debug()
                ),
            ));
        }
        Some(b) => Some(b),
        None => {
            let default = format!("{BRANCH_PREFIX}{id}");
            if !valid_branch_name(&default) {
                return Err(err(
                    "worktree",
                    format!(
                        "{owner} would work on branch `{default}`, which git refuses as a \
                         branch name ({BRANCH_NAME_RULE}); give `worktree.branch`"
                    ),
                ));
            }
            None
        }
    };
    let setup = match worktree.setup.map(argv_of) {
        Some(Err(problem)) => {
            return Err(err(
                "worktree.setup",
                format!("`worktree.setup` in {owner}: {problem}"),
            ));
        }
        Some(Ok(argv)) if argv.first().is_none_or(String::is_empty) => {
            return Err(err(
                "worktree.setup",
                format!(
                    "`worktree.setup` in {owner} must be a non-empty argv whose first element \
                     names a program, such as [\"npm\", \"ci\"]"
                ),
            ));
        }
        Some(Ok(argv)) => Some(argv),
        None => None,
    };
    let mut copy = Vec::with_capacity(worktree.copy.len());
    for (i, path) in worktree.copy.into_iter().enumerate() {
        if !inside(Path::new(&path)) {
            return Err(err(
                &format!("worktree.copy.{i}"),
                format!(
                    "`worktree.copy` in {owner} lists `{}`; each entry is a path relative to \
                     the repository's top level, inside it (no `..`, not absolute), such as \
                     \".env\"",
                    path.escape_debug()
                ),
            ));
        }
        copy.push(PathBuf::from(path));
    }
    Ok(Some(WorktreeSpec {
        base,
        branch,
        setup,
        copy,
    }))
}

/// True for a non-empty relative path that stays below where it starts.
fn inside(path: &Path) -> bool {
    let mut parts = 0;
    for part in path.components() {
        match part {
            Component::Normal(_) => parts += 1,
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    parts > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_git() {
        for good in ["baton/w1", "feature/x-1", "a.b", "v1.2", "UPPER", "x@y"] {
            assert!(valid_branch_name(good), "{good}");
        }
        for bad in [
            "",
            "-x",
            "/x",
            "x/",
            "x.",
            "a..b",
            "a//b",
            "a@{1}",
            "@",
            "HEAD",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            ".hidden",
            "x/.y",
            "x.lock",
            "x.lock/y",
            "a\u{7f}",
            "../../etc/passwd",
        ] {
            assert!(!valid_branch_name(bad), "{bad:?}");
        }
        assert!(!valid_branch_name(&"x".repeat(201)));
    }

    #[test]
    fn copy_paths_stay_inside() {
        assert!(inside(Path::new(".env")));
        assert!(inside(Path::new("./config/local.toml")));
        assert!(!inside(Path::new("../x")));
        assert!(!inside(Path::new("a/../../x")));
        assert!(!inside(Path::new("/etc/passwd")));
        assert!(!inside(Path::new(".")));
        assert!(!inside(Path::new("")));
    }
}
