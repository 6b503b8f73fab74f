//! `baton spawn`: start a session in the daemon, from flags or from a file
//! holding one `[[session]]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baton_config::{AgentKind, Backend};
use baton_proto::request::{Spawn, Via};
use baton_proto::{Request, Response, SpawnSpec};

use super::{Failure, SocketArg, call, finish};
use crate::exit;

#[derive(clap::Args, Debug)]
pub struct SpawnArgs {
    #[command(flatten)]
    pub socket: SocketArg,
    /// Session id [default: the first free `<agent>-<n>`].
    #[arg(long)]
    pub id: Option<String>,
    /// Which CLI to launch: codex, gemini, claude or command [default: command].
    #[arg(long, value_parser = parse_agent)]
    pub agent: Option<AgentKind>,
    /// The task (required for codex, gemini and claude; BATON_PROMPT for a command).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Working directory [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Extra environment for the session (repeatable): `KEY=VALUE`, or
    /// `KEY` alone to pass the value this command sees for KEY, so that a
    /// secret never appears on a command line.
    #[arg(long = "env", value_name = "KEY[=VALUE]", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Read environment from FILE: one `KEY=VALUE` (or `KEY`, taken from
    /// this command's environment) per line; blank lines and lines starting
    /// with `#` are skipped. --env wins over the file for the same KEY.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Model name.
    #[arg(long)]
    pub model: Option<String>,
    /// Codex profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// Where the process runs: pipes, pty or tmux [default: pipes].
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// Where to run: `local` (default), an inventory host of the daemon's
    /// config (`[hosts.NAME]`), or `any` (the host with the most free slots).
    /// A remote session runs in tmux; its --workdir is a path on that host.
    #[arg(long)]
    pub host: Option<String>,
    /// A capability tag, for `ps --capability` (repeatable).
    #[arg(long = "capability", value_name = "TAG")]
    pub capabilities: Vec<String>,
    /// Run in a git worktree of its own, on branch `baton/<id>` from the
    /// checkout's HEAD, beside the checkout (`<repo>.baton-worktrees/<id>`).
    /// Removed at the end when clean (the branch is kept); kept otherwise.
    #[arg(long)]
    pub worktree: bool,
    /// With --worktree: the branch, tag or commit to start from [default: HEAD].
    #[arg(long, value_name = "REF", requires = "worktree")]
    pub base: Option<String>,
    /// With --worktree: the branch to work on [default: baton/<id>].
    #[arg(long, value_name = "NAME", requires = "worktree")]
    pub branch: Option<String>,
    /// Read the session from a TOML file holding one `[[session]]` (or
    /// `[session]`) table; relative paths in it are resolved against its
    /// directory. Only --id may be given with it, to override the id.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["agent", "prompt", "workdir", "env", "env_file", "model", "profile", "backend", "capabilities", "command", "worktree"]
    )]
    pub file: Option<PathBuf>,
    /// The argv of a `command` session.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn parse_agent(s: &str) -> Result<AgentKind, String> {
    s.parse()
        .map_err(|e: baton_config::UnknownVariant| e.to_string())
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
        .map_err(|e: baton_config::InvalidBackend| e.to_string())
}

/// `KEY=VALUE`, or `KEY` whose value is this process's own; the value is
/// never echoed back (it may be a secret).
fn parse_env(s: &str) -> Result<(String, String), String> {
    env_entry(s, |key| std::env::var_os(key))
}

/// One `KEY=VALUE` or `KEY` (valued by `lookup`), as `--env` and the lines
/// of `--env-file` give it.
fn env_entry(
    s: &str,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(String, String), String> {
    let (key, value) = match s.split_once('=') {
        Some((key, value)) => (key, Some(value.to_owned())),
        None => (s, None),
    };
    if key.is_empty() || key.contains(char::is_whitespace) || key.contains('\0') {
        return Err(format!(
            "expected KEY=VALUE or KEY, with a KEY that is not empty and has no \
             spaces; got a KEY of {} characters",
            key.chars().count()
        ));
    }
    let value = match value {
        Some(value) => value,
        None => match lookup(key) {
            Some(value) => value.into_string().map_err(|_| {
                format!("`{key}` is set in this environment, but not to UTF-8 text")
            })?,
            None => {
                return Err(format!(
                    "`{key}` is not set in this environment (write {key}=VALUE, or \
                     export {key} first)"
                ));
            }
        },
    };
    Ok((key.to_owned(), value))
}

/// The entries of an `--env-file`: `KEY=VALUE` or `KEY` per line, blank
/// lines and `#` comments skipped. A bad line is an error naming the file
/// and the line number, never the line's text (it may hold a secret).
fn env_file(
    path: &Path,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text =
        String::from_utf8(text).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let entry = env_entry(trimmed, &lookup)
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        entries.push(entry);
    }
    Ok(entries)
}

pub fn main(args: SpawnArgs) -> i32 {
    finish(run(args))
}

fn run(args: SpawnArgs) -> Result<i32, Failure> {
    let (spec, origin) = match &args.file {
        Some(path) => {
            let (mut spec, mut origin) = spec_from_file(path).map_err(Failure::Invalid)?;
            if let Some(id) = &args.id {
                spec.id = Some(id.clone());
                origin.lines.remove("id");
            }
            (spec, Some(origin))
        }
        None => (spec_from_flags(&args).map_err(Failure::Usage)?, None),
    };
    let request = Request::Spawn(Box::new(Spawn {
        spec,
        origin,
        via: Via::Cli,
    }));
    match call(&args.socket, &request)? {
        Response::Spawned(spawned) => {
            println!("{}", spawned.id);
            Ok(exit::OK)
        }
        other => Err(Failure::Unexpected(other.reply())),
    }
}

/// Where a session a client asks for runs: its host (`None`: this
/// machine) and its workdir. A local workdir is made absolute against
/// `cwd` (the default); a remote one is a path on that host, taken as
/// given (`None`: the login directory).
pub fn placement(
    host: Option<String>,
    workdir: Option<PathBuf>,
    cwd: &Path,
) -> (Option<String>, Option<PathBuf>) {
    let host = host.filter(|h| h != "local");
    let workdir = match (workdir, &host) {
        (dir, Some(_)) => dir,
        (Some(dir), None) => Some(cwd.join(dir)),
        (None, None) => Some(cwd.to_path_buf()),
    };
    (host, workdir)
}

fn spec_from_flags(args: &SpawnArgs) -> Result<SpawnSpec, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let (host, workdir) = placement(args.host.clone(), args.workdir.clone(), &cwd);
    let mut env: BTreeMap<String, String> = match &args.env_file {
        Some(path) => env_file(path, |key| std::env::var_os(key))?
            .into_iter()
            .collect(),
        None => BTreeMap::new(),
    };
    env.extend(args.env.iter().cloned());
    Ok(SpawnSpec {
        id: args.id.clone(),
        agent: args.agent.map(Into::into),
        prompt: args.prompt.clone(),
        command: (!args.command.is_empty())
            .then(|| baton_proto::SpawnCommand::Argv(args.command.clone())),
        workdir: workdir.map(|w| w.to_string_lossy().into_owned()),
        env,
        model: args.model.clone(),
        profile: args.profile.clone(),
        // Left out, it is pipes here and tmux on a host: the checker's call.
        backend: args.backend.clone().map(Into::into),
        host,
        capabilities: args.capabilities.clone(),
        worktree: args.worktree.then(|| baton_proto::SpawnWorktree {
            base: args.base.clone(),
            branch: args.branch.clone(),
            ..baton_proto::SpawnWorktree::default()
        }),
        ..SpawnSpec::default()
    })
}

/// The one session in `path`, checked for form by the session checker so
/// that a mistake names the file and line. Its `host` and `backend` are
/// checked by the daemon, which owns the inventory and the backends; the
/// origin beside the spec holds the file and the lines of its keys so
/// that the daemon's errors name them too.
fn spec_from_file(path: &Path) -> Result<(SpawnSpec, baton_proto::SpawnOrigin), String> {
    let file = baton_config::SessionFile::load(path)
        .map_err(|e| format!("{:?}", miette::Report::new(e)))?;
    let origin = baton_proto::SpawnOrigin {
        file: path.display().to_string(),
        lines: file
            .lines
            .into_iter()
            .filter_map(|(key, line)| Some((key, u32::try_from(line).ok()?)))
            .collect(),
    };
    Ok((SpawnSpec::from(file.session), origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(key: &str) -> Option<std::ffi::OsString> {
        (key == "SET").then(|| "from-env".into())
    }

    #[test]
    fn env_flags() {
        assert_eq!(env_entry("A=b=c", lookup), Ok(("A".into(), "b=c".into())));
        assert_eq!(env_entry("A=", lookup), Ok(("A".into(), String::new())));
        assert_eq!(
            env_entry("SET", lookup),
            Ok(("SET".into(), "from-env".into()))
        );
        assert!(env_entry("=x", lookup).is_err());
        assert!(env_entry("A B=x", lookup).is_err());
        let err = env_entry("UNSET", lookup).unwrap_err();
        assert!(err.contains("`UNSET` is not set"), "{err}");
    }

    #[test]
    fn env_files_name_the_bad_line_but_never_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(
            &path,
            "# secrets\n\nTOKEN=s3cret=x\r\n  SET\nEMPTY=\n# done\n",
        )
        .unwrap();
        assert_eq!(
            env_file(&path, lookup).unwrap(),
            vec![
                ("TOKEN".into(), "s3cret=x".into()),
                ("SET".into(), "from-env".into()),
                ("EMPTY".into(), String::new()),
            ]
        );
        std::fs::write(&path, "A=1\nbad key=s3cret\n").unwrap();
        let err = env_file(&path, lookup).unwrap_err();
        assert!(err.contains(":2:") && !err.contains("s3cret"), "{err}");
        std::fs::write(&path, "A=1\n\nUNSET\n").unwrap();
        let err = env_file(&path, lookup).unwrap_err();
        assert!(err.contains(":3:") && err.contains("UNSET"), "{err}");
        let err = env_file(&dir.path().join("none"), lookup).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn a_file_with_one_session_becomes_its_spec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[session]\nid = \"w1\"\ncommand = [\"echo\", \"hi\"]\nworkdir = \"sub\"\ncapabilities = [\"review\"]\n",
        )
        .unwrap();
        let (spec, _) = spec_from_file(&path).unwrap();
        assert_eq!(spec.id.as_deref(), Some("w1"));
        assert_eq!(
            spec.command,
            Some(baton_proto::SpawnCommand::Argv(vec![
                "echo".into(),
                "hi".into()
            ]))
        );
        assert_eq!(
            spec.workdir,
            Some(dir.path().join("sub").display().to_string())
        );
        assert_eq!(spec.capabilities, vec!["review".to_owned()]);

        std::fs::write(
            &path,
            "[[session]]\nid = \"a\"\ncommand = [\"true\"]\nbogus = 1\n",
        )
        .unwrap();
        let err = spec_from_file(&path).unwrap_err();
        assert!(err.contains("bogus") && err.contains(":4:"), "{err}");

        std::fs::write(
            &path,
            "[[session]]\nid = \"a\"\ncommand = [\"true\"]\n[[session]]\nid = \"b\"\ncommand = [\"true\"]\n",
        )
        .unwrap();
        let err = spec_from_file(&path).unwrap_err();
        assert!(err.contains("exactly one"), "{err}");

        // The host's form is checked here, its name by the daemon: the
        // spec says where it was written.
        std::fs::write(
            &path,
            "[session]\nid = \"a\"\ncommand = [\"true\"]\nhost = \"box\"\n",
        )
        .unwrap();
        let (spec, origin) = spec_from_file(&path).unwrap();
        assert_eq!(spec.host.as_deref(), Some("box"));
        assert_eq!(origin.lines.get("host"), Some(&4));
        assert_eq!(origin.file, path.display().to_string());
    }
}
