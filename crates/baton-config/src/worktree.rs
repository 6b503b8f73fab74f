//! `worktree`: a session that runs in a git worktree of its own, on a branch
//! of its own, so that agents working on one repository in parallel never
//! see each other's files.
//!
//! This module holds the setting's validated shape ([`WorktreeSpec`]), the
//! draft a manifest or a `spawn` request fills in, and its checks. Creating,
//! reusing and removing worktrees is the engine's business (`baton_core::worktree`).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::model::SessionId;
use crate::session::{Given, SessionError, SessionField};

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

/// `worktree` as given: `true` is a draft with every field left out.
#[derive(Debug, Clone, Default)]
pub struct DraftWorktree {
    /// `base`.
    pub base: Option<Given<String>>,
    /// `branch`.
    pub branch: Option<Given<String>>,
    /// `setup`.
    pub setup: Option<Given<Vec<String>>>,
    /// `copy`.
    pub copy: Vec<Given<String>>,
}

/// Checks a session's `worktree`: `owner` names the session in messages,
/// `remote` is true for a session on another host.
pub(crate) fn check_worktree(
    draft: Option<Given<DraftWorktree>>,
    id: &SessionId,
    owner: &str,
    remote: bool,
) -> Result<Option<WorktreeSpec>, SessionError> {
    let Some(Given { value: draft, at }) = draft else {
        return Ok(None);
    };
    let err = |at: &Option<std::ops::Range<usize>>, message: String| SessionError {
        field: SessionField::Worktree,
        at: at.clone(),
        message,
    };
    if remote {
        return Err(err(
            &at,
            format!(
                "`worktree` in {owner} is for sessions on this machine; a remote session's \
                 checkout is on its host (leave `host` out, or drop `worktree`)"
            ),
        ));
    }
    let base = match draft.base {
        Some(b) if b.value.is_empty() || b.value.starts_with('-') || b.value.contains('\0') => {
            return Err(err(
                &b.at,
                format!(
                    "`worktree.base` in {owner} is `{}`; give a branch, tag or commit such as \
                     \"main\" or \"origin/main\" (not empty, not starting with `-`)",
                    b.value.escape_debug()
                ),
            ));
        }
        Some(b) => Some(b.value),
        None => None,
    };
    let branch = match draft.branch {
        Some(b) if !valid_branch_name(&b.value) => {
            return Err(err(
                &b.at,
                format!(
                    "`worktree.branch` in {owner} is `{}`: {BRANCH_NAME_RULE}",
                    b.value.escape_debug()
                ),
            ));
        }
        Some(b) => Some(b.value),
        None => {
            let default = format!("{BRANCH_PREFIX}{id}");
            if !valid_branch_name(&default) {
                return Err(err(
                    &at,
                    format!(
                        "{owner} would work on branch `{default}`, which git refuses as a \
                         branch name ({BRANCH_NAME_RULE}); give `worktree.branch`"
                    ),
                ));
            }
            None
        }
    };
    let setup = match draft.setup {
        Some(argv) if argv.value.first().is_none_or(String::is_empty) => {
            return Err(err(
                &argv.at,
                format!(
                    "`worktree.setup` in {owner} must be a non-empty argv whose first element \
                     names a program, such as [\"npm\", \"ci\"]"
                ),
            ));
        }
        Some(argv) if argv.value.iter().any(|a| a.contains('\0')) => {
            return Err(err(
                &argv.at,
                format!("`worktree.setup` in {owner} may not contain a NUL character"),
            ));
        }
        Some(argv) => Some(argv.value),
        None => None,
    };
    let mut copy = Vec::with_capacity(draft.copy.len());
    for path in draft.copy {
        if !inside(Path::new(&path.value)) || path.value.contains('\0') {
            return Err(err(
                &path.at,
                format!(
                    "`worktree.copy` in {owner} lists `{}`; each entry is a path relative to \
                     the repository's top level, inside it (no `..`, not absolute), such as \
                     \".env\"",
                    path.value.escape_debug()
                ),
            ));
        }
        copy.push(PathBuf::from(path.value));
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
