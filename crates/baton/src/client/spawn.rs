//! `baton spawn`: start a session in the daemon, from flags or from a file
//! holding one `[[session]]`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baton_config::{AgentKind, Backend, Manifest};
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
    /// Extra environment for the session (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
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
        conflicts_with_all = ["agent", "prompt", "workdir", "env", "model", "profile", "backend", "capabilities", "command", "worktree"]
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
        .map_err(|e: baton_config::UnknownVariant| e.to_string())
}

/// `KEY=VALUE`; the value is never echoed back (it may be a secret).
fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE with a non-empty KEY".to_owned()),
    }
}

pub fn main(args: SpawnArgs) -> i32 {
    finish(run(args))
}

fn run(args: SpawnArgs) -> Result<i32, Failure> {
    let spec = match &args.file {
        Some(path) => {
            let mut spec = spec_from_file(path).map_err(Failure::Invalid)?;
            if let Some(id) = &args.id {
                spec.id = id.clone();
            }
            spec
        }
        None => spec_from_flags(&args).map_err(Failure::Usage)?,
    };
    let request = Request::Spawn(Box::new(Spawn {
        spec,
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
/// machine), its workdir and its backend. A local workdir is made absolute
/// against `cwd` (the default); a remote one is a path on that host, taken
/// as given (`None`: the login directory). A remote session runs in tmux
/// unless told otherwise (the daemon refuses anything else, clearly).
pub fn placement(
    host: Option<String>,
    workdir: Option<PathBuf>,
    backend: Option<Backend>,
    cwd: &Path,
) -> (Option<String>, Option<PathBuf>, Backend) {
    let host = host.filter(|h| h != "local");
    let workdir = match (workdir, &host) {
        (dir, Some(_)) => dir,
        (Some(dir), None) => Some(cwd.join(dir)),
        (None, None) => Some(cwd.to_path_buf()),
    };
    let backend = match (&host, backend) {
        (Some(_), None) => Backend::Tmux,
        (_, backend) => backend.unwrap_or_default(),
    };
    (host, workdir, backend)
}

fn spec_from_flags(args: &SpawnArgs) -> Result<SpawnSpec, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let (host, workdir, backend) =
        placement(args.host.clone(), args.workdir.clone(), args.backend, &cwd);
    let env: BTreeMap<String, String> = args.env.iter().cloned().collect();
    Ok(SpawnSpec {
        id: args.id.clone().unwrap_or_default(),
        agent: args.agent.unwrap_or_default(),
        prompt: args.prompt.clone(),
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        workdir,
        env,
        model: args.model.clone(),
        profile: args.profile.clone(),
        backend,
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

/// The one session in `path`, checked by the manifest parser so that a
/// mistake names the file and line.
fn spec_from_file(path: &Path) -> Result<SpawnSpec, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let base_dir = std::path::absolute(parent).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = session_table_as_array(&text);
    // A `host` in the file is checked against ~/.config/baton/hosts.toml
    // (the daemon checks it against its own inventory again).
    let hosts_file = baton_config::HostsFile::default_path()
        .map(|p| baton_config::HostsFile::load(&p))
        .transpose()
        .map_err(|e| format!("{:?}", miette::Report::new(e)))?
        .flatten();
    let manifest = Manifest::parse_with_hosts(&text, Some(path), &base_dir, hosts_file.as_ref())
        .map_err(|e| format!("{:?}", miette::Report::new(e)))?;
    match <[_; 1]>::try_from(manifest.sessions) {
        Ok([session]) => Ok(SpawnSpec::from(session)),
        Err(sessions) => Err(format!(
            "{}: holds {} [[session]] entries; `baton spawn --file` takes exactly one",
            path.display(),
            sessions.len()
        )),
    }
}

/// Rewrites a lone `[session]` table header as `[[session]]`, so that a
/// file describing one session may use either. Lines keep their numbers,
/// so parse errors still point at the right line.
fn session_table_as_array(text: &str) -> Cow<'_, str> {
    let is_table_header = |line: &str| {
        let code = line.split('#').next().unwrap_or("").trim();
        code == "[session]"
    };
    if !text.lines().any(is_table_header) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2);
    for line in text.split_inclusive('\n') {
        if is_table_header(line) {
            out.push_str(&line.replacen("[session]", "[[session]]", 1));
        } else {
            out.push_str(line);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_flags() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(parse_env("A="), Ok(("A".into(), String::new())));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("A").is_err());
    }

    #[test]
    fn a_session_table_reads_like_an_array_entry() {
        let cases = [
            ("[session]\nid = \"a\"\n", "[[session]]\nid = \"a\"\n"),
            (
                "  [session]  # one\nid = \"a\"",
                "  [[session]]  # one\nid = \"a\"",
            ),
            ("[[session]]\nid = \"a\"\n", "[[session]]\nid = \"a\"\n"),
            ("[session.answer]\n", "[session.answer]\n"),
        ];
        for (text, want) in cases {
            assert_eq!(session_table_as_array(text), want);
        }
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
        let spec = spec_from_file(&path).unwrap();
        assert_eq!(spec.id, "w1");
        assert_eq!(spec.command, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(spec.workdir, Some(dir.path().join("sub")));
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
    }
}
