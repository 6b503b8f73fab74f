use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::Diagnostic;
use proptest::prelude::*;

use crate::manifest::parse_hosts_file;
use crate::*;

const BASE: &str = "/work/proj";

fn parse(text: &str) -> Result<Manifest, ConfigError> {
    Manifest::parse(text, Some(Path::new("baton.toml")), Path::new(BASE))
}

fn id(s: &str) -> SessionId {
    s.parse().expect("valid id")
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// A session that is valid on its own, to pad broken manifests with.
const OK_SESSION: &str = "[[session]]\ncommand = [\"true\"]\n";

/// (what is broken, manifest, expected line, substring of the message)
const BROKEN: &[(&str, &str, Option<usize>, &str)] = &[
    (
        "syntax",
        "[conductor\nmax_restarts = 3\n",
        Some(1),
        "expected",
    ),
    (
        "syntax in value",
        "[[session]]\ncommand = [\"x\",\n",
        Some(2),
        "unclosed array",
    ),
    (
        "unknown key in [probe]",
        "[probe]\nstall_after = \"1s\"\nstal_after = \"1s\"\n",
        Some(3),
        "unknown field `stal_after` in [probe], expected one of `stall_after`, `input_wait_after`, `startup_timeout`",
    ),
    (
        "unknown key in [conductor]",
        "[conductor]\n\nlog_dir = \"x\"\n",
        Some(3),
        "unknown field `log_dir` in [conductor]",
    ),
    (
        "unknown key at top level",
        "sessions = []\n",
        Some(1),
        "unknown field `sessions` at the top level",
    ),
    (
        "unknown key in [[session]]",
        "[[session]]\ncommand = [\"x\"]\n\n[[session]]\ncommand = [\"y\"]\nworkdri = \"x\"\n",
        Some(6),
        "unknown field `workdri` in [[session]] #2",
    ),
    (
        "unknown key in [agents.codex]",
        "[agents.codex]\nbinary = \"x\"\n",
        Some(2),
        "unknown field `binary` in [agents.codex]",
    ),
    (
        "unknown agent name",
        "[agents.aider]\nbin = \"x\"\n",
        Some(1),
        "unknown agent `aider` in [agents], expected one of `codex`, `gemini`, `claude`, `command`",
    ),
    (
        "wrong type",
        "[conductor]\nmax_restarts = \"three\"\n",
        Some(2),
        "`max_restarts` in [conductor]: invalid type: string \"three\", expected u32",
    ),
    (
        "wrong type of table",
        "probe = 3\n",
        Some(1),
        "`probe`: invalid type: integer `3`, expected a [probe] table",
    ),
    (
        "wrong type in session",
        "[[session]]\ncommand = [\"x\"]\nbranch_guard = \"yes\"\n",
        Some(3),
        "`branch_guard` in [[session]] #1: invalid type: string \"yes\", expected a boolean",
    ),
    (
        "bad duration",
        "[probe]\nstall_after = \"30 parsecs\"\n",
        Some(2),
        "`stall_after` in [probe]: invalid duration \"30 parsecs\"",
    ),
    (
        "bare integer duration",
        "[conductor]\ngrace = 10\n",
        Some(2),
        "`grace` in [conductor]: a bare number (10) is not a duration; write it as a string with a unit, e.g. \"30s\"",
    ),
    (
        "float duration",
        "[probe]\nl2_interval = 1.5\n",
        Some(2),
        "`l2_interval` in [probe]: a bare number",
    ),
    (
        "bad fsync",
        "[conductor]\nfsync = \"sometimes\"\n",
        Some(2),
        "`fsync` in [conductor]: unknown variant `sometimes`, expected one of `always`, `batch`, `off`",
    ),
    (
        "bad on_stall",
        "[probe]\non_stall = \"kill\"\n",
        Some(2),
        "`on_stall` in [probe]: unknown variant `kill`, expected `mark` or `restart`",
    ),
    (
        "newline in an enum value",
        "[conductor]\nfsync = \"al\\nways\"\n",
        Some(2),
        "`fsync` in [conductor]: unknown variant `al\\nways`, expected one of",
    ),
    (
        "newline in an account mode",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"e\\nv\"\n",
        Some(3),
        "`mode` in [[accounts.gemini]] #1: unknown variant `e\\nv`",
    ),
    (
        "bad stdin",
        "[[session]]\ncommand = [\"x\"]\nstdin = \"tty\"\n",
        Some(3),
        "`stdin` in [[session]] #1: unknown variant `tty`, expected `pipe` or `null`",
    ),
    (
        "bad agent",
        "[[session]]\nagent = \"aider\"\n",
        Some(2),
        "expected one of `codex`, `gemini`, `claude`, `command`",
    ),
    (
        "invalid session id",
        "[[session]]\nid = \"-bad id\"\ncommand = [\"x\"]\n",
        Some(2),
        "`id` in [[session]] #1: invalid session id `-bad id`: a session id is 1 to 64 characters",
    ),
    (
        "session id too long",
        "[[session]]\nid = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\ncommand = [\"x\"]\n",
        Some(2),
        "invalid session id",
    ),
    (
        "duplicate session id",
        "[[session]]\nid = \"a\"\ncommand = [\"x\"]\n\n[[session]]\nid = \"a\"\ncommand = [\"y\"]\n",
        Some(6),
        "duplicate session id `a` in [[session]] #2 (first used on line 2)",
    ),
    (
        "explicit id clashes with a default id",
        "[[session]]\nid = \"command-2\"\ncommand = [\"x\"]\n\n[[session]]\ncommand = [\"y\"]\n",
        Some(5),
        "duplicate session id `command-2`",
    ),
    (
        "command agent without command",
        "[[session]]\nagent = \"command\"\nprompt = \"p\"\n",
        Some(2),
        "[[session]] #1 (`command-1`) is agent = \"command\" but has no `command`",
    ),
    (
        "default agent without command",
        "[[session]]\nprompt = \"p\"\n",
        Some(1),
        "is agent = \"command\" but has no `command`",
    ),
    (
        "command on a codex session",
        "[[session]]\nagent = \"codex\"\nprompt = \"p\"\ncommand = [\"x\"]\n",
        Some(4),
        "`command` in [[session]] #1 (`codex-1`) is only for agent = \"command\"",
    ),
    (
        "codex without prompt",
        "[[session]]\nagent = \"codex\"\n",
        Some(2),
        "is agent = \"codex\" and needs a `prompt`",
    ),
    (
        "gemini without prompt",
        "[[session]]\nagent = \"gemini\"\n",
        Some(2),
        "is agent = \"gemini\" and needs a `prompt`",
    ),
    (
        "claude without prompt",
        "[[session]]\nid = \"c\"\nagent = \"claude\"\n",
        Some(3),
        "[[session]] #1 (`c`) is agent = \"claude\" and needs a `prompt`",
    ),
    (
        "blank prompt",
        "[[session]]\nagent = \"claude\"\nprompt = \"  \"\n",
        Some(3),
        "`prompt` in [[session]] #1 (`claude-1`) is empty",
    ),
    (
        "empty command array",
        "[[session]]\ncommand = []\n",
        Some(2),
        "`command` in [[session]] #1 (`command-1`) must be a non-empty argv whose first element names a program",
    ),
    (
        "empty command string",
        "[[session]]\ncommand = \"   \"\n",
        Some(2),
        "`command` in [[session]] #1 (`command-1`): the command string is empty",
    ),
    (
        "unbalanced command string",
        "[[session]]\ncommand = \"python3 'x\"\n",
        Some(2),
        "cannot split the command string",
    ),
    (
        "non-string command element",
        "[[session]]\ncommand = [\"x\", 3]\n",
        Some(2),
        "`command[1]` in [[session]] #1: invalid type: integer `3`, expected a string",
    ),
    (
        "mcp_servers on claude",
        "[[session]]\nagent = \"claude\"\nprompt = \"p\"\nmcp_servers = [\"github\"]\n",
        Some(4),
        "`mcp_servers` in [[session]] #1 (`claude-1`) is only supported for agent = \"codex\"",
    ),
    (
        "bad mcp server name",
        "[[session]]\nagent = \"codex\"\nprompt = \"p\"\nmcp_servers = [\"a.b=c\"]\n",
        Some(4),
        "invalid server name `a.b=c`",
    ),
    (
        "zero stall_after",
        "[probe]\nstall_after = \"0s\"\n",
        Some(2),
        "`stall_after` in [probe] must be greater than zero",
    ),
    (
        "zero startup_timeout",
        "[probe]\nstartup_timeout = \"0ms\"\n",
        Some(2),
        "`startup_timeout` in [probe] must be greater than zero",
    ),
    (
        "zero grace",
        "[conductor]\ngrace = \"0s\"\n",
        Some(2),
        "`grace` in [conductor] must be greater than zero",
    ),
    (
        "zero l2_interval",
        "[probe]\nl2_interval = \"0s\"\n",
        Some(2),
        "`l2_interval` in [probe] must be greater than zero",
    ),
    (
        "zero session stall_after",
        "[[session]]\ncommand = [\"x\"]\nstall_after = \"0s\"\n",
        Some(3),
        "`stall_after` in [[session]] #1 must be greater than zero",
    ),
    (
        "zero session startup_timeout",
        "[[session]]\ncommand = [\"x\"]\nstartup_timeout = \"0s\"\n",
        Some(3),
        "`startup_timeout` in [[session]] #1 must be greater than zero",
    ),
    (
        "backoff_max below backoff",
        "[conductor]\nbackoff = \"10s\"\nbackoff_max = \"5s\"\n",
        Some(3),
        "`backoff_max` in [conductor] (5s) is less than `backoff` (10s)",
    ),
    (
        "backoff above default backoff_max",
        "[conductor]\nbackoff = \"1m\"\n",
        Some(2),
        "`backoff_max` in [conductor] (30s) is less than `backoff` (1m)",
    ),
    (
        "tail_bytes too small",
        "[conductor]\ntail_bytes = 10\n",
        Some(2),
        "`tail_bytes` in [conductor] is 10, must be within 256..=1048576",
    ),
    (
        "tail_bytes too large",
        "[conductor]\ntail_bytes = 1048577\n",
        Some(2),
        "must be within 256..=1048576",
    ),
    (
        "tail_bytes negative",
        "[conductor]\ntail_bytes = -1\n",
        Some(2),
        "`tail_bytes` in [conductor]",
    ),
    (
        "max_log_size below the least",
        "[conductor]\nmax_log_size = \"1KiB\"\n",
        Some(2),
        "`max_log_size` in [conductor] is 1024 bytes; it must be 0 (never roll over) or at least 65536 (64KiB)",
    ),
    (
        "max_log_size with an unknown unit",
        "[conductor]\nmax_log_size = \"64MB\"\n",
        Some(2),
        "`max_log_size` in [conductor]: unknown unit `MB` in `64MB` (B, KiB, MiB or GiB)",
    ),
    (
        "max_log_size not a size",
        "[conductor]\nmax_log_size = \"lots\"\n",
        Some(2),
        "`max_log_size` in [conductor]: unknown unit `lots`",
    ),
    (
        "max_log_size overflowing",
        "[conductor]\nmax_log_size = \"99999999999999G\"\n",
        Some(2),
        "`max_log_size` in [conductor]: `99999999999999G` is not a size",
    ),
    (
        "keep_segments zero",
        "[conductor]\nkeep_segments = 0\n",
        Some(2),
        "`keep_segments` in [conductor] is 0; it must be at least 1",
    ),
    (
        "l2_failures zero",
        "[probe]\nl2_failures = 0\n",
        Some(2),
        "`l2_failures` in [probe] must be at least 1",
    ),
    (
        "l2_check empty",
        "[probe]\nl2_check = []\n",
        Some(2),
        "`l2_check` in [probe]: the argv array is empty",
    ),
    (
        "env key empty",
        "[[session]]\ncommand = [\"x\"]\nenv = { \"\" = \"v\" }\n",
        Some(3),
        "`env` in [[session]] #1 (`command-1`): an env key must not be empty",
    ),
    (
        "env key with =",
        "[[session]]\ncommand = [\"x\"]\n[session.env]\n\"A=B\" = \"v\"\n",
        Some(4),
        "an env key must not contain '=' (key `A=B`)",
    ),
    (
        "env key with NUL",
        "[[session]]\ncommand = [\"x\"]\nenv = { \"A\\u0000\" = \"v\" }\n",
        Some(3),
        "`env.A\\0` in [[session]] #1 (`command-1`) may not contain a NUL character",
    ),
    (
        "env value with NUL",
        "[[session]]\ncommand = [\"x\"]\nenv = { TOKEN = \"sk-secret\\u0000\" }\n",
        Some(3),
        "`env.TOKEN` in [[session]] #1 (`command-1`) may not contain a NUL character (value not shown)",
    ),
    (
        "env value not a string",
        "[[session]]\ncommand = [\"x\"]\n\n[session.env]\nPIN = 123456\n",
        Some(5),
        "`env.PIN` in [[session]] #1: env values must be strings",
    ),
    (
        "env not a table",
        "[[session]]\ncommand = [\"x\"]\nenv = \"TOKEN=sk-secret\"\n",
        Some(3),
        "`env` in [[session]] #1: env must be a table of string values (value not shown)",
    ),
    (
        "NUL in prompt",
        "[[session]]\nagent = \"codex\"\nprompt = \"a\\u0000b\"\n",
        Some(3),
        "`prompt` in [[session]] #1 (`codex-1`) may not contain a NUL character",
    ),
    (
        "NUL in command element",
        "[[session]]\ncommand = [\"a\", \"b\\u0000\"]\n",
        Some(2),
        "`command[1]` in [[session]] #1 (`command-1`) may not contain a NUL character",
    ),
    (
        "NUL in command string",
        "[[session]]\ncommand = \"a b\\u0000\"\n",
        Some(2),
        "`command` in [[session]] #1 (`command-1`) may not contain a NUL character",
    ),
    (
        "NUL in bin",
        "[agents.codex]\nbin = \"/x\\u0000\"\n",
        Some(2),
        "`bin` in [agents.codex]: strings may not contain NUL characters",
    ),
    (
        "NUL in capabilities",
        "[[session]]\ncommand = [\"x\"]\ncapabilities = [\"ok\", \"b\\u0000\"]\n",
        Some(3),
        "`capabilities[1]` in [[session]] #1 (`command-1`) may not contain a NUL character",
    ),
    (
        "bin on the command agent",
        "[agents.command]\nbin = \"/bin/sh\"\n",
        Some(2),
        "`bin` in [agents.command]: the command agent has no binary",
    ),
    (
        "empty bin",
        "[agents.gemini]\nbin = \"\"\n",
        Some(2),
        "`bin` in [agents.gemini] must not be empty",
    ),
    (
        "empty workdir",
        "[[session]]\ncommand = [\"x\"]\nworkdir = \"\"\n",
        Some(3),
        "`workdir` in [[session]] #1 must not be empty",
    ),
    (
        "empty model",
        "[[session]]\nagent = \"claude\"\nprompt = \"p\"\nmodel = \"\"\n",
        Some(4),
        "`model` in [[session]] #1 (`claude-1`) must not be empty",
    ),
    (
        "unknown key in [accounts]",
        "[accounts]\ncooldown = \"1m\"\ncooldwn = \"5m\"\n",
        Some(3),
        "unknown field `cooldwn` in [accounts], expected one of `auth_dir`, `state_dir`, `cooldown`",
    ),
    (
        "unknown key in an account",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\nenv = { K = \"v\" }\nhots = \"x\"\n",
        Some(5),
        "unknown field `hots` in [[accounts.codex]] #1, expected one of `id`, `mode`, `profile`",
    ),
    (
        "unknown key in a later account",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"a.json\"\n\n[[accounts.gemini]]\nid = \"b\"\nprofiel = \"x\"\n",
        Some(8),
        "unknown field `profiel` in [[accounts.gemini]] #2",
    ),
    (
        "unknown account provider",
        "[accounts]\ncooldown = \"1m\"\n\n[[accounts.foo]]\nid = \"a\"\n",
        Some(4),
        "unknown account provider `foo` in [accounts], expected one of `codex`, `gemini`, `claude`",
    ),
    (
        "command accounts",
        "[[accounts.command]]\nid = \"a\"\nmode = \"env\"\n",
        Some(1),
        "unknown account provider `command` in [accounts] (the command agent runs a given argv and takes no accounts), expected one of `codex`, `gemini`, `claude`",
    ),
    (
        "unknown provider as an inline array",
        "[accounts]\naider = [{ id = \"a\" }]\n",
        Some(2),
        "unknown account provider `aider` in [accounts]",
    ),
    (
        "accounts table with one pair of brackets",
        "[accounts.codex]\nid = \"a\"\n",
        Some(1),
        "`codex` in [accounts]: this is one table, not a list of accounts; write each account as [[accounts.NAME]] (two brackets)",
    ),
    (
        "accounts provider not an array",
        "[accounts]\ngemini = \"work\"\n",
        Some(2),
        "`gemini` in [accounts]: invalid type: string \"work\", expected an array of tables, one [[accounts.NAME]] (two brackets) per account",
    ),
    (
        "accounts not a table",
        "accounts = 3\n",
        Some(1),
        "`accounts`: invalid type: integer `3`, expected an [accounts] table",
    ),
    (
        "account without id",
        "[accounts]\ncooldown = \"1m\"\n\n[[accounts.gemini]]\nmode = \"env\"\n",
        Some(4),
        "[[accounts.gemini]] #1 has no `id`",
    ),
    (
        "account without mode",
        "[[accounts.claude]]\nid = \"a\"\n",
        Some(2),
        "[[accounts.claude]] #1 (`a`) has no `mode`; set mode = \"env\" or \"auth\"",
    ),
    (
        "codex account without mode",
        "[[accounts.codex]]\nhost = \"box\"\nid = \"a\"\n",
        Some(3),
        "[[accounts.codex]] #1 (`a`) has no `mode`; set mode = \"profile\", \"env\" or \"auth\"",
    ),
    (
        "invalid account id",
        "[[accounts.codex]]\nid = \"-x y\"\nmode = \"profile\"\nprofile = \"p\"\n",
        Some(2),
        "`id` in [[accounts.codex]] #1: invalid account id `-x y`: an account id is 1 to 64 characters",
    ),
    (
        "empty account id",
        "[[accounts.codex]]\nid = \"\"\nmode = \"profile\"\nprofile = \"p\"\n",
        Some(2),
        "invalid account id ``",
    ),
    (
        "account id too long",
        "[[accounts.gemini]]\nid = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\nmode = \"auth\"\nauth_file = \"a\"\n",
        Some(2),
        "invalid account id",
    ),
    (
        "account id not a string",
        "[[accounts.gemini]]\nid = 1\n",
        Some(2),
        "`id` in [[accounts.gemini]] #1: invalid type: integer `1`, expected a string",
    ),
    (
        "duplicate account id",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"profile\"\nprofile = \"p\"\n\n[[accounts.gemini]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"g.json\"\n\n[[accounts.codex]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"c.json\"\n",
        Some(12),
        "duplicate account id `a` in [[accounts.codex]] #2 (first used on line 2 by another codex account)",
    ),
    (
        "auth mode without auth_file",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"auth\"\n",
        Some(3),
        "[[accounts.gemini]] #1 (`a`) is mode = \"auth\" but has no `auth_file`",
    ),
    (
        "profile mode without profile",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"profile\"\n",
        Some(3),
        "[[accounts.codex]] #1 (`a`) is mode = \"profile\" but has no `profile`",
    ),
    (
        "env mode without env",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"env\"\n",
        Some(3),
        "[[accounts.claude]] #1 (`a`) is mode = \"env\" but has no `env`",
    ),
    (
        "env mode with an empty env",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"env\"\nenv = {}\n",
        Some(4),
        "`env` in [[accounts.claude]] #1 (`a`) is empty; mode = \"env\" needs at least one variable",
    ),
    (
        "env mode with an empty env table",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\n\n[accounts.codex.env]\n",
        Some(5),
        "`env` in [[accounts.codex]] #1 (`a`) is empty",
    ),
    (
        "auth_file on an env account",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\nenv = { K = \"v\" }\nauth_file = \"a.json\"\n",
        Some(5),
        "`auth_file` in [[accounts.codex]] #1 (`a`) is only for mode = \"auth\", this account is mode = \"env\"",
    ),
    (
        "profile on an auth account",
        "[[accounts.codex]]\nid = \"a\"\nprofile = \"p\"\nmode = \"auth\"\nauth_file = \"a.json\"\n",
        Some(3),
        "`profile` in [[accounts.codex]] #1 (`a`) is only for mode = \"profile\", this account is mode = \"auth\"",
    ),
    (
        "env on a profile account",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"profile\"\nprofile = \"p\"\nenv = { TOKEN = \"sk-secret\" }\n",
        Some(5),
        "`env` in [[accounts.codex]] #1 (`a`) is only for mode = \"env\", this account is mode = \"profile\"",
    ),
    (
        "profile mode on gemini",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"profile\"\nprofile = \"p\"\n",
        Some(3),
        "`mode` in [[accounts.gemini]] #1 (`a`): mode = \"profile\" is only for codex accounts (codex --profile); a gemini account can use mode = \"env\" or \"auth\"",
    ),
    (
        "profile mode on claude",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"profile\"\n",
        Some(3),
        "mode = \"profile\" is only for codex accounts",
    ),
    (
        "unknown mode",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"file\"\n",
        Some(3),
        "`mode` in [[accounts.codex]] #1: unknown variant `file`, expected one of `profile`, `env`, `auth`",
    ),
    (
        "unknown tier",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"profile\"\nprofile = \"p\"\ntier = \"gold\"\n",
        Some(5),
        "`tier` in [[accounts.codex]] #1: unknown variant `gold`, expected one of `pro`, `plus`, `unknown`, `free`",
    ),
    (
        "empty profile",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"profile\"\nprofile = \"\"\n",
        Some(4),
        "`profile` in [[accounts.codex]] #1 (`a`) must not be empty",
    ),
    (
        "empty auth_file",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"\"\n",
        Some(4),
        "`auth_file` in [[accounts.claude]] #1 (`a`) must not be empty",
    ),
    (
        "~user in auth_file",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"~bob/a.json\"\n",
        Some(4),
        "`auth_file` in [[accounts.claude]] #1 (`a`) `~user` paths are not supported",
    ),
    (
        "empty host",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"a\"\nhost = \"\"\n",
        Some(5),
        "`host` in [[accounts.claude]] #1 (`a`) must not be empty",
    ),
    (
        "NUL in host",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"a\"\nhost = \"b\\u0000\"\n",
        Some(5),
        "`host` in [[accounts.claude]] #1: strings may not contain NUL characters",
    ),
    (
        "account env key empty",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\nenv = { \"\" = \"sk-secret\" }\n",
        Some(4),
        "`env` in [[accounts.codex]] #1 (`a`): an env key must not be empty",
    ),
    (
        "account env key with =",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\n[accounts.codex.env]\n\"A=B\" = \"sk-secret\"\n",
        Some(5),
        "`env` in [[accounts.codex]] #1 (`a`): an env key must not contain '=' (key `A=B`)",
    ),
    (
        "account env key with NUL",
        "[[accounts.codex]]\nid = \"a\"\nmode = \"env\"\nenv = { \"A\\u0000\" = \"sk-secret\" }\n",
        Some(4),
        "`env.A\\0` in [[accounts.codex]] #1: strings may not contain NUL characters",
    ),
    (
        "account env value with NUL",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"env\"\nenv = { TOKEN = \"sk-secret\\u0000\" }\n",
        Some(4),
        "`env.TOKEN` in [[accounts.gemini]] #1: env values must be strings without NUL characters (value not shown)",
    ),
    (
        "account env value not a string",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"env\"\n\n[accounts.gemini.env]\nPIN = 123456\n",
        Some(6),
        "`env.PIN` in [[accounts.gemini]] #1: env values must be strings",
    ),
    (
        "account env not a table",
        "[[accounts.gemini]]\nid = \"a\"\nmode = \"env\"\nenv = \"TOKEN=sk-secret\"\n",
        Some(4),
        "`env` in [[accounts.gemini]] #1: env must be a table of string values (value not shown)",
    ),
    (
        "account error in an inline array",
        "[accounts]\nclaude = [{ id = \"ok\", mode = \"auth\", auth_file = \"a\" }, { id = \"b\", mode = \"auth\" }]\n",
        Some(2),
        "[[accounts.claude]] #2 (`b`) is mode = \"auth\" but has no `auth_file`",
    ),
    (
        "bad cooldown",
        "[accounts]\ncooldown = \"5 fortnights\"\n",
        Some(2),
        "`cooldown` in [accounts]: invalid duration \"5 fortnights\"",
    ),
    (
        "bare number circuit_window",
        "[accounts]\ncircuit_window = 600\n",
        Some(2),
        "`circuit_window` in [accounts]: a bare number (600) is not a duration",
    ),
    (
        "zero cooldown",
        "[accounts]\ncooldown = \"0s\"\n",
        Some(2),
        "`cooldown` in [accounts] must be greater than zero",
    ),
    (
        "zero circuit_window",
        "[accounts]\ncircuit_window = \"0ms\"\n",
        Some(2),
        "`circuit_window` in [accounts] must be greater than zero",
    ),
    (
        "circuit_failures zero",
        "[accounts]\ncircuit_failures = 0\n",
        Some(2),
        "`circuit_failures` in [accounts] must be at least 1",
    ),
    (
        "circuit_failures negative",
        "[accounts]\ncircuit_failures = -1\n",
        Some(2),
        "`circuit_failures` in [accounts]",
    ),
    (
        "empty auth_dir",
        "[accounts]\nauth_dir = \"\"\n",
        Some(2),
        "`auth_dir` in [accounts] must not be empty",
    ),
    (
        "~user in state_dir",
        "[accounts]\nstate_dir = \"~bob/state\"\n",
        Some(2),
        "`state_dir` in [accounts] `~user` paths are not supported; write `~/…` or an absolute path",
    ),
    (
        "NUL in auth_dir",
        "[accounts]\nauth_dir = \"/a\\u0000\"\n",
        Some(2),
        "`auth_dir` in [accounts]: strings may not contain NUL characters",
    ),
    (
        "bad backend",
        "[[session]]\ncommand = [\"x\"]\nbackend = \"ssh\"\n",
        Some(3),
        "`backend` in [[session]] #1 (`command-1`) is \"ssh\", which is no backend here: expected one of `pipes`, `pty`, `tmux`",
    ),
    (
        "misspelt backend",
        "[[session]]\ncommand = [\"x\"]\nbackend = \"tmx\"\n",
        Some(3),
        "expected one of `pipes`, `pty`, `tmux`; did you mean `tmux`?",
    ),
    (
        "backend not a string",
        "[[session]]\ncommand = [\"x\"]\nbackend = true\n",
        Some(3),
        "`backend` in [[session]] #1: invalid type: boolean `true`, expected a string",
    ),
    (
        "backend in upper case",
        "[[session]]\ncommand = [\"x\"]\nbackend = \"PTY\"\n",
        Some(3),
        "unknown backend `PTY`, expected one of `pipes`, `pty`, `tmux` (or the name of a registered backend",
    ),
    (
        "stdin null with backend pty",
        "[[session]]\ncommand = [\"x\"]\nbackend = \"pty\"\nstdin = \"null\"\n",
        Some(4),
        "`stdin` in [[session]] #1 (`command-1`) is \"null\" but `backend` is \"pty\": a terminal always has input; remove `stdin` or use backend = \"pipes\"",
    ),
    (
        "stdin null with backend pty",
        "[[session]]\nid = \"t\"\nagent = \"claude\"\nprompt = \"p\"\nstdin = \"null\"\nbackend = \"pty\"\n",
        Some(5),
        "`stdin` in [[session]] #1 (`t`) is \"null\" but `backend` is \"pty\"",
    ),
    (
        "pricing without an output price",
        "[pricing.\"gpt-5\"]\ninput = 1.25\n",
        Some(1),
        "`output` is missing in [pricing.\"gpt-5\"]: US dollars per million output tokens",
    ),
    (
        "a negative price",
        "[pricing.codex]\ninput = 1\noutput = -3\n",
        Some(3),
        "`output` must be US dollars per million tokens, from 0 to 100000; got -3 in [pricing.\"codex\"]",
    ),
    (
        "a price that is not a number",
        "[pricing.codex]\ninput = \"cheap\"\noutput = 1\n",
        Some(2),
        "invalid type: string \"cheap\", expected f64",
    ),
    (
        "an unknown field in a price",
        "[pricing.codex]\ninput = 1\noutput = 1\ncache_write = 2\n",
        Some(4),
        "unknown field `cache_write`",
    ),
    (
        "bad regex in input_wait",
        "[[agents.claude.input_wait]]\nname = \"trust\"\npattern = '^Do you trust (the files'\n",
        Some(3),
        "`input_wait[0].pattern` in [agents.claude] is not a valid regex: regex parse error:",
    ),
    (
        "bad regex in a later input_wait of the command agent",
        "[agents.command]\nstdin = \"pipe\"\n\n[[agents.command.input_wait]]\nname = \"a\"\npattern = 'ok'\n\n[[agents.command.input_wait]]\nname = \"b\"\npattern = 'x{2,1}'\n",
        Some(10),
        "`input_wait[1].pattern` in [agents.command] is not a valid regex: regex parse error:",
    ),
    (
        "regex error keeps regex's own message",
        "[[agents.codex.input_wait]]\nname = \"menu\"\npattern = '[z-a]'\n",
        Some(3),
        "invalid character class range",
    ),
    (
        "multi-line regex error is one line",
        "[[agents.gemini.input_wait]]\nname = \"menu\"\npattern = \"a\\n(b\"\n",
        Some(3),
        "`input_wait[0].pattern` in [agents.gemini] is not a valid regex:",
    ),
    (
        "regex over the size limit",
        "[[agents.claude.input_wait]]\nname = \"big\"\npattern = 'x{1000}{1000}'\n",
        Some(3),
        "`input_wait[0].pattern` in [agents.claude] is not a valid regex: Compiled regex exceeds size limit",
    ),
    (
        "empty input_wait pattern",
        "[[agents.claude.input_wait]]\nname = \"trust\"\npattern = \"\"\n",
        Some(3),
        "`input_wait[0].pattern` in [agents.claude] must not be empty",
    ),
    (
        "input_wait without pattern",
        "[agents.claude]\nbin = \"claude\"\n\n[[agents.claude.input_wait]]\nname = \"trust\"\n",
        Some(4),
        "`input_wait[0]` in [agents.claude] (`trust`) has no `pattern`",
    ),
    (
        "input_wait without name",
        "[[agents.claude.input_wait]]\npattern = '^Trust\\?'\n",
        Some(1),
        "`input_wait[0]` in [agents.claude] has no `name`",
    ),
    (
        "input_wait name with upper case and dash",
        "[[agents.claude.input_wait]]\nname = \"Claude-Trust\"\npattern = 'x'\n",
        Some(2),
        "`input_wait[0].name` in [agents.claude]: invalid rule name `Claude-Trust`: a rule name is 1 to 40 characters",
    ),
    (
        "empty input_wait name",
        "[[agents.codex.input_wait]]\nname = \"\"\npattern = 'x'\n",
        Some(2),
        "invalid rule name ``",
    ),
    (
        "input_wait name too long",
        "[[agents.codex.input_wait]]\nname = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\npattern = 'x'\n",
        Some(2),
        "invalid rule name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`",
    ),
    (
        "input_wait name with a newline",
        "[[agents.codex.input_wait]]\nname = \"a\\nb\"\npattern = 'x'\n",
        Some(2),
        "invalid rule name `a\\nb`",
    ),
    (
        "duplicate input_wait name",
        "[[agents.claude.input_wait]]\nname = \"trust\"\npattern = 'a'\n\n[[agents.claude.input_wait]]\nname = \"trust\"\npattern = 'b'\n",
        Some(6),
        "`input_wait[1].name` in [agents.claude]: duplicate rule name `trust` (first used on line 2)",
    ),
    (
        "NUL in input_wait pattern",
        "[[agents.claude.input_wait]]\nname = \"a\"\npattern = \"x\\u0000\"\n",
        Some(3),
        "`input_wait[0].pattern` in [agents.claude]: strings may not contain NUL characters",
    ),
    (
        "unknown key in input_wait",
        "[[agents.claude.input_wait]]\nname = \"a\"\nregex = 'x'\n",
        Some(3),
        "unknown field `regex` in `input_wait[0]` of [agents.claude], expected `name` or `pattern`",
    ),
    (
        "input_wait with one pair of brackets",
        "[agents.claude.input_wait]\nname = \"a\"\npattern = 'x'\n",
        Some(1),
        "`input_wait` in [agents.claude]: this is one table, not a list of rules; write each rule as [[agents.NAME.input_wait]] (two brackets)",
    ),
    (
        "input_wait not an array",
        "[agents.codex]\ninput_wait = '^Allow'\n",
        Some(2),
        "`input_wait` in [agents.codex]: invalid type: string \"^Allow\", expected an array of tables, one [[agents.NAME.input_wait]] (two brackets) per rule",
    ),
    (
        "bad regex in an answer",
        "[[session]]\ncommand = [\"x\"]\n\n[[session.answer]]\npattern = 'cargo (test'\nreply = \"y\"\n",
        Some(5),
        "`answer[0].pattern` in [[session]] #1 (`command-1`) is not a valid regex: regex parse error:",
    ),
    (
        "bad regex in a later session's answer",
        "[[session]]\ncommand = [\"x\"]\n\n[[session]]\nid = \"w\"\ncommand = [\"y\"]\n\n[[session.answer]]\npattern = 'ok'\nreply = \"y\"\n\n[[session.answer]]\nreply = \"n\"\npattern = '\\p{NoSuchClass}'\n",
        Some(14),
        "`answer[1].pattern` in [[session]] #2 (`w`) is not a valid regex:",
    ),
    (
        "empty answer pattern",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = ''\nreply = \"y\"\n",
        Some(4),
        "`answer[0].pattern` in [[session]] #1 (`command-1`) must not be empty",
    ),
    (
        "answer without pattern",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\nreply = \"y\"\n",
        Some(3),
        "`answer[0]` in [[session]] #1 (`command-1`) has no `pattern`",
    ),
    (
        "answer without reply",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'cargo test'\n",
        Some(3),
        "`answer[0]` in [[session]] #1 (`command-1`) has no `reply`",
    ),
    (
        "newline in reply",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"y\\nsk-secret\"\n",
        Some(5),
        "`answer[0].reply` in [[session]] #1 (`command-1`) must be one line: it may not contain a newline or carriage return",
    ),
    (
        "trailing newline in reply",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"\"\"\ny\n\"\"\"\n",
        Some(5),
        "`answer[0].reply` in [[session]] #1 (`command-1`) must be one line",
    ),
    (
        "carriage return in reply",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"y\\rsk-secret\"\n",
        Some(5),
        "must be one line",
    ),
    (
        "NUL in reply",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"sk-secret\\u0000\"\n",
        Some(5),
        "`answer[0].reply` in [[session]] #1 (`command-1`) may not contain a NUL character (value not shown)",
    ),
    (
        "reply not a string",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = 1\n",
        Some(5),
        "`answer[0].reply` in [[session]] #1: invalid type: integer `1`, expected a string",
    ),
    (
        "bad rule name in an answer",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"y\"\nrule = \"Yes-No\"\n",
        Some(6),
        "`answer[0].rule` in [[session]] #1 (`command-1`): invalid rule name `Yes-No`: a rule name is 1 to 40 characters",
    ),
    (
        "empty rule name in an answer",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nreply = \"y\"\nrule = \"\"\n",
        Some(6),
        "invalid rule name ``",
    ),
    (
        "unknown key in an answer",
        "[[session]]\ncommand = [\"x\"]\n[[session.answer]]\npattern = 'x'\nanswer = \"y\"\n",
        Some(5),
        "unknown field `answer` in `answer[0]` of [[session]] #1, expected one of `pattern`, `reply`, `rule`",
    ),
    (
        "answer with one pair of brackets",
        "[[session]]\ncommand = [\"x\"]\n\n[session.answer]\npattern = 'x'\nreply = \"y\"\n",
        Some(4),
        "`answer` in [[session]] #1: this is one table, not a list of rules; write each rule as [[session.answer]] (two brackets)",
    ),
    (
        "answer as an inline table",
        "[[session]]\ncommand = [\"x\"]\nanswer = { pattern = 'x', reply = \"y\" }\n",
        Some(3),
        "this is one table, not a list of rules",
    ),
    (
        "host without address",
        "[hosts.gpu]\nuser = \"me\"\n",
        Some(1),
        "[hosts.gpu] has no `address`",
    ),
    (
        "empty address",
        "[hosts.gpu]\naddress = \"\"\n",
        Some(2),
        "`address` in [hosts.gpu] must not be empty",
    ),
    (
        "address that ssh would read as an option",
        "[hosts.gpu]\naddress = \"-oProxyCommand=touch /tmp/x\"\n",
        Some(2),
        "`address` in [hosts.gpu] is `-oProxyCommand=touch /tmp/x`, which starts with '-': ssh would read it as an option",
    ),
    (
        "address with a space",
        "[hosts.gpu]\naddress = \"a b\"\n",
        Some(2),
        "`address` in [hosts.gpu] is `a b`, which contains whitespace",
    ),
    (
        "user in the address",
        "[hosts.gpu]\naddress = \"me@gpu\"\n",
        Some(2),
        "put the login name in `user`",
    ),
    (
        "user that ssh would read as an option",
        "[hosts.gpu]\naddress = \"gpu\"\nuser = \"-lroot\"\n",
        Some(3),
        "`user` in [hosts.gpu] is `-lroot`, which starts with '-'",
    ),
    (
        "unknown key in a host",
        "[hosts.gpu]\naddress = \"gpu\"\nadress = \"x\"\n",
        Some(3),
        "unknown field `adress` in [hosts.gpu], expected one of `address`, `user`, `port`",
    ),
    (
        "host that is not a table",
        "[hosts]\ngpu = 3\n",
        Some(2),
        "`gpu` in [hosts]: invalid type: integer `3`, expected a [hosts.NAME] table",
    ),
    (
        "invalid host name",
        "[hosts.\"a b\"]\naddress = \"x\"\n",
        Some(1),
        "invalid host name `a b` in [hosts]: a host name is 1 to 64 characters",
    ),
    (
        "reserved host name any",
        "[hosts.any]\naddress = \"x\"\n",
        Some(1),
        "invalid host name `any` in [hosts]: `any` is reserved",
    ),
    (
        "reserved host name local",
        "[hosts]\nlocal = { address = \"x\" }\n",
        Some(2),
        "invalid host name `local` in [hosts]: `local` is reserved",
    ),
    (
        "port zero",
        "[hosts.gpu]\naddress = \"gpu\"\nport = 0\n",
        Some(3),
        "`port` in [hosts.gpu] is 0, must be within 1..=65535",
    ),
    (
        "port too large",
        "[hosts.gpu]\naddress = \"gpu\"\nport = 65536\n",
        Some(3),
        "`port` in [hosts.gpu] is 65536",
    ),
    (
        "port as a string",
        "[hosts.gpu]\naddress = \"gpu\"\nport = \"22\"\n",
        Some(3),
        "`port` in [hosts.gpu]: invalid type: string \"22\"",
    ),
    (
        "max_sessions zero",
        "[hosts.gpu]\naddress = \"gpu\"\nmax_sessions = 0\n",
        Some(3),
        "`max_sessions` in [hosts.gpu] is 0, must be at least 1",
    ),
    (
        "negative max_sessions",
        "[hosts.gpu]\naddress = \"gpu\"\nmax_sessions = -2\n",
        Some(3),
        "`max_sessions` in [hosts.gpu] is -2",
    ),
    (
        "bad multiplexer",
        "[hosts.gpu]\naddress = \"gpu\"\nmultiplexer = \"screen\"\n",
        Some(3),
        "`multiplexer` in [hosts.gpu]: unknown variant `screen`, expected `tmux` or `psmux`",
    ),
    (
        "ssh option without a value",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"Compression=yes\", \"Compression\"]\n",
        Some(3),
        "`ssh_options[1]` in [hosts.gpu] is `Compression`: write each option as `Key=Value`",
    ),
    (
        "ssh option with a newline",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"Compression=yes\\nProxyCommand=x\"]\n",
        Some(3),
        "`ssh_options[0]` in [hosts.gpu] is `Compression=yes\\nProxyCommand=x`: it contains a newline",
    ),
    (
        "ssh option with an empty value",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"Compression=\"]\n",
        Some(3),
        "`Compression` has no value",
    ),
    (
        "ssh option with a bad key",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"-F=x\"]\n",
        Some(3),
        "`-F` is not an ssh option name",
    ),
    (
        "ssh option baton owns",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"batchmode=no\"]\n",
        Some(3),
        "`BatchMode` may not be set here: baton sets it on every connection",
    ),
    (
        "ssh option with its own field",
        "[hosts.gpu]\naddress = \"gpu\"\nssh_options = [\"Port=2222\"]\n",
        Some(3),
        "`Port` may not be set here: use the host's `port` field",
    ),
    (
        "zero host remote_timeout",
        "[hosts.gpu]\naddress = \"gpu\"\nremote_timeout = \"0s\"\n",
        Some(3),
        "`remote_timeout` in [hosts.gpu] must be greater than zero",
    ),
    (
        "zero conductor remote_timeout",
        "[conductor]\nremote_timeout = \"0s\"\n",
        Some(2),
        "`remote_timeout` in [conductor] must be greater than zero",
    ),
    (
        "identity under ~user",
        "[hosts.gpu]\naddress = \"gpu\"\nidentity = \"~bob/.ssh/id\"\n",
        Some(3),
        "`identity` in [hosts.gpu] `~user` paths are not supported",
    ),
    (
        "session on an unknown host",
        "[hosts.gpu]\naddress = \"gpu\"\n[hosts.cpu]\naddress = \"cpu\"\n\n[[session]]\ncommand = [\"x\"]\nhost = \"gpo\"\n",
        Some(8),
        "`host` in [[session]] #1 (`command-1`) names `gpo`, which is not in the hosts inventory (known hosts: `cpu`, `gpu`); define [hosts.gpo] in baton.toml or ~/.config/baton/hosts.toml",
    ),
    (
        "session on a host without an inventory",
        "[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\n",
        Some(3),
        "which is not in the hosts inventory (the inventory is empty)",
    ),
    (
        "session host that is no host name",
        "[hosts.gpu]\naddress = \"gpu\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu; reboot\"\n",
        Some(5),
        "names `gpu; reboot`, which is not in the hosts inventory (known hosts: `gpu`); a host name is",
    ),
    (
        "session on any host without an inventory",
        "[[session]]\ncommand = [\"x\"]\nhost = \"any\"\n",
        Some(3),
        "`host` in [[session]] #1 (`command-1`) is \"any\", but the hosts inventory is empty",
    ),
    (
        "empty session host",
        "[[session]]\ncommand = [\"x\"]\nhost = \"\"\n",
        Some(3),
        "`host` in [[session]] #1 (`command-1`) must not be empty",
    ),
    (
        "remote session on a pty",
        "[hosts.gpu]\naddress = \"gpu\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\nbackend = \"pty\"\n",
        Some(6),
        "`backend` in [[session]] #1 (`command-1`) is \"pty\" but the session runs on host `gpu`: remote sessions run in tmux",
    ),
    (
        "remote session on pipes",
        "[hosts.gpu]\naddress = \"gpu\"\n[[session]]\ncommand = [\"x\"]\nbackend = \"pipes\"\nhost = \"any\"\n",
        Some(5),
        "is \"pipes\" but the session is placed on a remote host (host = \"any\"): remote sessions run in tmux",
    ),
    (
        "remote session with a relative workdir",
        "[hosts.gpu]\naddress = \"gpu\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\nworkdir = \"src\"\n",
        Some(6),
        "`workdir` in [[session]] #1 (`command-1`) is `src`, a relative path; the session runs on host `gpu`",
    ),
    (
        "remote session with a null stdin",
        "[hosts.gpu]\naddress = \"gpu\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\nstdin = \"null\"\n",
        Some(6),
        "`stdin` in [[session]] #1 (`command-1`) is \"null\" but the session runs on host `gpu`: remote sessions run in tmux, and a terminal always has input; remove `stdin`",
    ),
    (
        "no sessions",
        "[conductor]\nmax_restarts = 1\n",
        None,
        "manifest has no [[session]] entries",
    ),
    (
        "empty file",
        "",
        None,
        "manifest has no [[session]] entries",
    ),
    (
        "session = []",
        "session = []\n",
        None,
        "manifest has no [[session]] entries",
    ),
    (
        "notify without on",
        "[[notify]]\ncommand = [\"notify-send\"]\n",
        Some(1),
        "needs `on`",
    ),
    (
        "notify with an unknown state",
        "[[notify]]\non = [\"waiting\"]\ncommand = [\"x\"]\n",
        Some(2),
        "unknown state `waiting`",
    ),
    (
        "notify without command",
        "[[notify]]\non = [\"dead\"]\n",
        Some(1),
        "needs `command`",
    ),
    (
        "notify with an empty command",
        "[[notify]]\non = [\"dead\"]\ncommand = []\n",
        Some(3),
        "argv array is empty",
    ),
    (
        "notify for a bad session id",
        "[[session]]\ncommand = [\"true\"]\n[[notify]]\non = [\"dead\"]\ncommand = [\"x\"]\nsessions = [\"a b\"]\n",
        Some(6),
        "`sessions` in [[notify]] #1",
    ),
    (
        "notify with an unknown field",
        "[[notify]]\non = [\"dead\"]\ncommand = [\"x\"]\nwhen = 1\n",
        Some(4),
        "unknown field `when`",
    ),
    (
        "hooks for the command agent",
        "[agents.command]\nhooks = true\n",
        Some(2),
        "`hooks` in [agents.command]",
    ),
    (
        "hooks that are no boolean",
        "[agents.claude]\nhooks = \"yes\"\n",
        Some(2),
        "hooks",
    ),
    (
        "notify with an unknown wait kind",
        "[[notify]]\non = [\"input_wait\"]\ncommand = [\"x\"]\nkinds = [\"bored\"]\n",
        Some(4),
        "unknown kind `bored`; the kinds are permission, question, idle",
    ),
    (
        "notify with kinds but no input_wait",
        "[[notify]]\non = [\"dead\"]\ncommand = [\"x\"]\nkinds = [\"idle\"]\n",
        Some(4),
        "narrows input_wait, which `on` does not hold",
    ),
    (
        "remote session env key that is not a shell name",
        "[hosts.gpu]\naddress = \"10.0.0.2\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\nenv = { \"A-B\" = \"1\" }\n",
        Some(6),
        "`env` in [[session]] #1 (`command-1`) has the key `A-B`; a remote session's variables",
    ),
    (
        "host account env key that is not a shell name",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"env\"\nenv = { \"X.Y\" = \"$K\" }\nhost = \"gpu\"\n",
        Some(3),
        "its `env` has the key `X.Y`",
    ),
    (
        "auth account for a remote host",
        "[[accounts.claude]]\nid = \"a\"\nmode = \"auth\"\nauth_file = \"a.json\"\nhost = \"gpu\"\n",
        Some(3),
        "is mode = \"auth\" for host `gpu`: its credentials file is on this machine",
    ),
    (
        "worktree of the wrong type",
        "[[session]]\ncommand = [\"x\"]\nworktree = \"yes\"\n",
        Some(3),
        "expected true, false, or a table { base, branch, setup, copy }",
    ),
    (
        "worktree with an unknown field",
        "[[session]]\ncommand = [\"x\"]\nworktree = { base = \"main\", dir = \"/tmp\" }\n",
        Some(3),
        "unknown field `dir`",
    ),
    (
        "worktree branch git refuses",
        "[[session]]\ncommand = [\"x\"]\n[session.worktree]\nbranch = \"../../etc\"\n",
        Some(4),
        "`worktree.branch` in [[session]] #1 (`command-1`) is `../../etc`: a branch name is",
    ),
    (
        "worktree base that looks like an option",
        "[[session]]\ncommand = [\"x\"]\nworktree = { base = \"--upload-pack=x\" }\n",
        Some(3),
        "`worktree.base` in [[session]] #1 (`command-1`) is `--upload-pack=x`",
    ),
    (
        "worktree copy outside the repository",
        "[[session]]\ncommand = [\"x\"]\nworktree = { copy = [\".env\", \"../secrets\"] }\n",
        Some(3),
        "`worktree.copy` in [[session]] #1 (`command-1`) lists `../secrets`",
    ),
    (
        "worktree setup empty",
        "[[session]]\ncommand = [\"x\"]\nworktree = { setup = [] }\n",
        Some(3),
        "`worktree.setup` in [[session]] #1 (`command-1`) must be a non-empty argv whose first element names a program",
    ),
    (
        "worktree whose default branch git refuses",
        "[[session]]\nid = \"a..b\"\ncommand = [\"x\"]\nworktree = true\n",
        Some(4),
        "would work on branch `baton/a..b`",
    ),
    (
        "worktree on a remote host",
        "[hosts.gpu]\naddress = \"10.0.0.2\"\n[[session]]\ncommand = [\"x\"]\nhost = \"gpu\"\nworktree = true\n",
        Some(6),
        "`worktree` in [[session]] #1 (`command-1`) is for sessions on this machine",
    ),
];

/// Everything wrong with the error for one broken manifest.
fn check_broken(what: &str, text: &str, line: Option<usize>, needle: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let err = match parse(text) {
        Ok(m) => return vec![format!("{what}: parsed, expected an error: {m:?}")],
        Err(e) => e,
    };
    let shown = err.to_string();
    if err.line() != line {
        problems.push(format!(
            "{what}: line {:?}, expected {line:?}: {shown}",
            err.line()
        ));
    }
    if !err.message().contains(needle) {
        problems.push(format!("{what}: `{}` lacks `{needle}`", err.message()));
    }
    if shown.contains('\n') {
        problems.push(format!("{what}: not one line: {shown}"));
    }
    let prefix = match (err.line(), err.column()) {
        (Some(l), Some(c)) => format!("baton.toml:{l}:{c}: "),
        _ => "baton.toml: ".to_owned(),
    };
    if !shown.starts_with(&prefix) {
        problems.push(format!("{what}: `{shown}` does not start with `{prefix}`"));
    }
    if shown.contains("sk-secret") || shown.contains("123456") {
        problems.push(format!("{what}: leaks an env value: {shown}"));
    }
    if err.source_code().is_none() {
        problems.push(format!("{what}: no source code"));
    }
    let labels = err.labels().map_or(0, Iterator::count);
    if labels != usize::from(line.is_some()) {
        problems.push(format!("{what}: {labels} labels"));
    }
    problems
}

#[test]
fn broken_manifests_name_the_field_and_line() {
    let mut problems = Vec::new();
    for (what, text, line, needle) in BROKEN {
        // Manifests that are only broken outside [[session]] get a valid
        // session appended, so the error cannot be "no sessions".
        let text = if text.contains("session") || line.is_none() {
            (*text).to_owned()
        } else {
            format!("{text}\n{OK_SESSION}")
        };
        problems.extend(check_broken(what, &text, *line, needle));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn notify_hooks_are_read_in_order_with_their_filters() {
    let text = format!(
        "{OK_SESSION}\n[[notify]]\non = [\"input_wait\", \"dead\", \"input_wait\"]\ncommand = [\"notify-send\", \"baton\"]\n\n[[notify]]\non = [\"completed\"]\ncommand = [\"./hook\"]\nsessions = [\"w1\"]\ncapability = \"review\"\n"
    );
    let m = parse(&text).expect("valid");
    assert_eq!(m.notify.len(), 2);
    assert_eq!(m.notify[0].on, strings(&["input_wait", "dead"]));
    assert_eq!(m.notify[0].command, strings(&["notify-send", "baton"]));
    assert!(m.notify[0].sessions.is_empty() && m.notify[0].capability.is_none());
    assert_eq!(m.notify[1].sessions, vec![id("w1")]);
    assert_eq!(m.notify[1].capability.as_deref(), Some("review"));
    assert!(m.notify[0].kinds.is_empty());
    assert!(parse(OK_SESSION).unwrap().notify.is_empty());
    let narrowed = format!(
        "{OK_SESSION}\n[[notify]]\non = [\"input_wait\"]\ncommand = [\"x\"]\nkinds = [\"idle\", \"permission\", \"idle\"]\n"
    );
    let m = parse(&narrowed).expect("valid");
    assert_eq!(m.notify[0].kinds, strings(&["idle", "permission"]));
}

#[test]
fn unknown_field_error_has_the_documented_shape() {
    let text = format!("{OK_SESSION}\n[probe]\nstal_after = \"1s\"\n");
    let err = parse(&text).expect_err("unknown field");
    assert_eq!(
        err.to_string(),
        "baton.toml:5:1: unknown field `stal_after` in [probe], expected one of `stall_after`, \
         `input_wait_after`, `startup_timeout`, `on_stall`, `stall_restart_after`, `health_interval`, `l2_check`, \
         `l2_interval`, `l2_failures`"
    );
    assert_eq!((err.line(), err.column()), (Some(5), Some(1)));
    let ConfigError::Invalid(inv) = &err else {
        panic!("not Invalid: {err:?}")
    };
    assert_eq!(&text[inv.span().expect("span")], "stal_after");
}

#[test]
fn column_counts_characters() {
    let err = parse("[[session]]\nprompt = \"é\"; command = []\n").expect_err("syntax");
    assert_eq!(err.line(), Some(2));
    assert_eq!(err.column(), Some(13));
}

#[test]
fn source_none_is_named_manifest() {
    let err = Manifest::parse("x = 1", None, Path::new("/")).expect_err("unknown");
    assert!(err.to_string().starts_with("<manifest>:1:1: "), "{err}");
}

#[test]
fn load_reports_missing_file() {
    let path = Path::new("/nonexistent/baton-config-test/baton.toml");
    let err = Manifest::load(path).expect_err("missing");
    assert!(matches!(err, ConfigError::Io { .. }));
    assert_eq!(err.line(), None);
    assert!(
        err.to_string()
            .contains("/nonexistent/baton-config-test/baton.toml")
    );
}

#[test]
fn load_resolves_against_the_manifest_directory() {
    let dir = std::env::temp_dir().join(format!("baton-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("baton.toml");
    std::fs::write(&path, "[[session]]\ncommand = [\"x\"]\nworkdir = \"sub\"\n").expect("write");
    let m = Manifest::load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let m = m.expect("valid");
    assert_eq!(m.source.as_deref(), Some(path.as_path()));
    assert_eq!(m.base_dir, dir);
    assert_eq!(
        m.sessions[0].workdir.as_deref(),
        Some(dir.join("sub").as_path())
    );
    assert_eq!(m.conductor.logs_dir, dir.join(".baton/logs"));
}

const FULL: &str = r#"
[conductor]
logs_dir = "/var/log/baton"
max_restarts = 4
grace = "5s"
backoff = "500ms"
backoff_max = "1m"
reset_after = "1h 30m"
fsync = "always"
rate_limit_cooldown = "15m"
tail_bytes = 4096
remote_timeout = "20s"
log_input = true
max_log_size = "16MiB"
keep_segments = 8

[probe]
stall_after = "45s"
startup_timeout = "2m"
on_stall = "restart"
stall_restart_after = "10m"
health_interval = "1m"
l2_check = ["curl", "-sf", "http://127.0.0.1:8080/health"]
l2_interval = "20s"
l2_failures = 5

[agents.codex]
bin = "/opt/codex/bin/codex"
stdin = "null"
hooks = true

[[agents.codex.input_wait]]
name = "codex_approve"
pattern = '^Allow command\?'

[agents.claude]
stdin = "pipe"

[[agents.claude.input_wait]]
name = "claude_trust"
pattern = '^Do you trust the files in this folder\?'

[[agents.claude.input_wait]]
name = "numbered_menu_2"
pattern = '^\s*❯?\s*1\. Yes\b'

[[agents.command.input_wait]]
name = "codex_approve"
pattern = "(?i)press enter"

[[session]]
id = "review-1"
agent = "codex"
prompt = "fix the tests"
workdir = "../repo"
env = { RUST_LOG = "debug", TOKEN = "s3cret" }
model = "o3"
profile = "work"
mcp_servers = ["github", "linear_2"]
branch_guard = true
stdin = "pipe"
backend = "pty"
capabilities = ["review", "rust"]
max_restarts = 5
stall_after = "1m"
startup_timeout = "3m"
on_stall = "mark"

[[session.answer]]
pattern = 'rm\s+-rf'
reply = "n"

[[session.answer]]
pattern = 'cargo test'
reply = "y"
rule = "yes_no"

[[session.answer]]
pattern = '^Press Enter'
reply = ""
rule = "press_enter_2"

[[session]]
command = "python3 worker.py --name 'two words'"
prompt = "do the thing"
model = "local"
backend = "pty"
stdin = "pipe"

[[session]]
agent = "claude"
prompt = "write docs"
backend = "pipes"
stdin = "null"
answer = [{ pattern = "Continue\\?", reply = "yes please" }]
"#;

fn wait_rule(name: &str, pattern: &str) -> InputWaitRule {
    InputWaitRule {
        name: name.to_owned(),
        pattern: pattern.to_owned(),
    }
}

fn answer(pattern: &str, reply: &str, rule: Option<&str>) -> AnswerRule {
    AnswerRule {
        pattern: pattern.parse().unwrap(),
        reply: reply.to_owned(),
        rule: rule.map(str::to_owned),
    }
}

#[test]
fn full_manifest_round_trip() {
    let m = parse(FULL).expect("valid");
    assert_eq!(m.source.as_deref(), Some(Path::new("baton.toml")));
    assert_eq!(m.base_dir, PathBuf::from(BASE));
    assert_eq!(
        m.conductor,
        ConductorConfig {
            logs_dir: PathBuf::from("/var/log/baton"),
            max_restarts: 4,
            grace: Duration::from_secs(5),
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            reset_after: Duration::from_secs(5400),
            fsync: FsyncPolicy::Always,
            rate_limit_cooldown: Duration::from_secs(900),
            tail_bytes: 4096,
            remote_timeout: Duration::from_secs(20),
            log_input: true,
            max_log_size: 16 << 20,
            keep_segments: Some(8),
        }
    );
    assert_eq!(
        m.probe,
        ProbeConfig {
            stall_after: Duration::from_secs(45),
            input_wait_after: Some(Duration::from_secs(2)),
            startup_timeout: Duration::from_secs(120),
            on_stall: OnStall::Restart,
            stall_restart_after: Duration::from_secs(600),
            health_interval: Some(Duration::from_secs(60)),
            l2_check: Some(strings(&["curl", "-sf", "http://127.0.0.1:8080/health"])),
            l2_interval: Duration::from_secs(20),
            l2_failures: 5,
        }
    );
    assert_eq!(
        m.agents,
        AgentsConfig {
            codex: AgentConfig {
                bin: Some("/opt/codex/bin/codex".into()),
                stdin: Some(StdinMode::Null),
                input_wait: vec![wait_rule("codex_approve", r"^Allow command\?")],
                hooks: Some(true),
            },
            gemini: AgentConfig::default(),
            claude: AgentConfig {
                bin: None,
                stdin: Some(StdinMode::Pipe),
                input_wait: vec![
                    wait_rule("claude_trust", r"^Do you trust the files in this folder\?"),
                    wait_rule("numbered_menu_2", r"^\s*❯?\s*1\. Yes\b"),
                ],
                hooks: None,
            },
            // The same name as a codex rule: names are unique per agent.
            command: AgentConfig {
                input_wait: vec![wait_rule("codex_approve", "(?i)press enter")],
                ..AgentConfig::default()
            },
        }
    );
    assert_eq!(m.sessions.len(), 3);
    let env: BTreeMap<String, String> = [("RUST_LOG", "debug"), ("TOKEN", "s3cret")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(
        m.sessions[0],
        SessionSpec {
            id: id("review-1"),
            agent: AgentKind::Codex,
            prompt: Some("fix the tests".into()),
            command: None,
            workdir: Some(PathBuf::from("/work/proj/../repo")),
            env,
            model: Some("o3".into()),
            profile: Some("work".into()),
            mcp_servers: strings(&["github", "linear_2"]),
            branch_guard: true,
            stdin: Some(StdinMode::Pipe),
            backend: Backend::Pty,
            answers: vec![
                answer(r"rm\s+-rf", "n", None),
                answer("cargo test", "y", Some("yes_no")),
                answer("^Press Enter", "", Some("press_enter_2")),
            ],
            capabilities: strings(&["review", "rust"]),
            max_restarts: Some(5),
            stall_after: Some(Duration::from_secs(60)),
            input_wait_after: None,
            startup_timeout: Some(Duration::from_secs(180)),
            on_stall: Some(OnStall::Mark),
            host: None,
            worktree: None,
        }
    );
    let second = &m.sessions[1];
    assert_eq!(second.id, id("command-2"));
    assert_eq!(second.agent, AgentKind::Command);
    assert_eq!(
        second.command,
        Some(strings(&["python3", "worker.py", "--name", "two words"]))
    );
    assert_eq!(second.prompt.as_deref(), Some("do the thing"));
    assert_eq!(second.model.as_deref(), Some("local"));
    assert_eq!(second.workdir.as_deref(), Some(Path::new(BASE)));
    assert_eq!(second.effective_stdin(&m.agents), StdinMode::Pipe);
    assert_eq!(second.backend, Backend::Pty);
    assert!(second.answers.is_empty());
    let third = &m.sessions[2];
    assert_eq!(third.id, id("claude-3"));
    assert_eq!(third.backend, Backend::Pipes);
    assert_eq!(third.effective_stdin(&m.agents), StdinMode::Null);
    assert_eq!(third.answers, [answer(r"Continue\?", "yes please", None)]);
    assert_eq!(m.sessions[0].effective_stdin(&m.agents), StdinMode::Pipe);
}

/// Input-wait and answer rules with patterns that are one edit away from
/// being invalid, for the mutation test.
const RULES_FULL: &str = r#"
[[agents.claude.input_wait]]
name = "claude_trust"
pattern = '^Do you trust the files in this folder\?'

[[agents.command.input_wait]]
name = "menu_1"
pattern = '^\s*[0-9]\. (Yes|No)\b'

[[session]]
agent = "claude"
prompt = "fix the tests"
backend = "pty"
stdin = "pipe"

[[session.answer]]
pattern = '(rm|del) -[rf]{2}'
reply = "n"

[[session.answer]]
pattern = 'cargo test'
reply = "y"
rule = "claude_trust"

[[session]]
command = ["x"]
backend = "pty"
answer = [{ pattern = 'x{1,3}', reply = "" }]
"#;

/// Every `[accounts]` setting, every provider and mode, providers interleaved.
const ACCOUNTS_FULL: &str = r#"
[[session]]
agent = "codex"
prompt = "fix the tests"

[accounts]
auth_dir = "~/.config/baton/auth"
state_dir = "state"
cooldown = "2m"
circuit_failures = 5
circuit_window = "1h"

[[accounts.codex]]
id = "work"
mode = "profile"
profile = "work-profile"
host = "box1"
tier = "pro"

[[accounts.gemini]]
id = "g.1"
mode = "env"
env = { GEMINI_API_KEY = "$GEMINI_WORK", PLAIN = "s3cret" }
tier = "free"

[[accounts.codex]]
id = "spare_2"
mode = "auth"
auth_file = "codex/spare.json"
tier = "plus"

[[accounts.claude]]
id = "work"
mode = "auth"
auth_file = "~/creds/claude.json"

[[accounts.codex]]
id = "Key-3"
mode = "env"
tier = "unknown"

[accounts.codex.env]
OPENAI_API_KEY = "$WORK_KEY"
"#;

fn account(id: &str, provider: AgentKind, mode: AccountMode) -> AccountSpec {
    AccountSpec {
        id: id.to_owned(),
        provider,
        mode,
        profile: None,
        env: BTreeMap::new(),
        auth_file: None,
        host: None,
        tier: Tier::Unknown,
    }
}

fn env_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn accounts_round_trip() {
    let home = Path::new("/home/tester");
    let m = Manifest::parse_with_home(
        ACCOUNTS_FULL,
        Some(Path::new("baton.toml")),
        Path::new(BASE),
        Some(home),
        None,
    )
    .expect("valid");
    let a = &m.accounts;
    assert_eq!(a.auth_dir, PathBuf::from("/home/tester/.config/baton/auth"));
    assert_eq!(a.state_dir, PathBuf::from("/work/proj/state"));
    assert_eq!(a.cooldown, Duration::from_secs(120));
    assert_eq!(a.circuit_failures, 5);
    assert_eq!(a.circuit_window, Duration::from_secs(3600));

    let codex_work = AccountSpec {
        profile: Some("work-profile".into()),
        host: Some("box1".into()),
        tier: Tier::Pro,
        ..account("work", AgentKind::Codex, AccountMode::Profile)
    };
    let gemini = AccountSpec {
        env: env_of(&[("GEMINI_API_KEY", "$GEMINI_WORK"), ("PLAIN", "s3cret")]),
        tier: Tier::Free,
        ..account("g.1", AgentKind::Gemini, AccountMode::Env)
    };
    let codex_spare = AccountSpec {
        auth_file: Some(PathBuf::from("codex/spare.json")),
        tier: Tier::Plus,
        ..account("spare_2", AgentKind::Codex, AccountMode::Auth)
    };
    let claude = AccountSpec {
        auth_file: Some(PathBuf::from("/home/tester/creds/claude.json")),
        ..account("work", AgentKind::Claude, AccountMode::Auth)
    };
    let codex_env = AccountSpec {
        env: env_of(&[("OPENAI_API_KEY", "$WORK_KEY")]),
        ..account("Key-3", AgentKind::Codex, AccountMode::Env)
    };
    let expected = [codex_work, gemini, codex_spare, claude, codex_env];
    assert_eq!(a.accounts, expected);

    let ids = |p| a.for_provider(p).map(|s| s.id.as_str()).collect::<Vec<_>>();
    assert_eq!(ids(AgentKind::Codex), ["work", "spare_2", "Key-3"]);
    assert_eq!(ids(AgentKind::Gemini), ["g.1"]);
    assert_eq!(ids(AgentKind::Claude), ["work"]);
    assert!(a.brokered(AgentKind::Codex));
    assert!(!a.brokered(AgentKind::Command));

    // The same manifest through `parse`, with the real HOME (if usable).
    if let Some(real) = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
    {
        let m = parse(ACCOUNTS_FULL).expect("valid");
        assert_eq!(m.accounts.auth_dir, real.join(".config/baton/auth"));
        assert_eq!(
            m.accounts.accounts[3].auth_file.as_deref(),
            Some(real.join("creds/claude.json").as_path())
        );
    }
}

#[test]
fn accounts_serialize_without_env_values() {
    let m = Manifest::parse_with_home(
        ACCOUNTS_FULL,
        None,
        Path::new(BASE),
        Some(Path::new("/home/tester")),
        None,
    )
    .expect("valid");
    let text = toml::to_string(&m.accounts).expect("serialize");
    assert!(text.contains("cooldown = \"2m\""), "{text}");
    assert!(text.contains("circuit_window = \"1h\""), "{text}");
    assert!(text.contains("mode = \"profile\""), "{text}");
    assert!(text.contains("tier = \"pro\""), "{text}");
    assert!(text.contains("provider = \"gemini\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!text.contains("WORK_KEY"), "{text}");
    assert_eq!(Tier::Plus.to_string(), "plus");
    assert_eq!(AccountMode::Auth.to_string(), "auth");
    assert!(Tier::Pro < Tier::Plus && Tier::Plus < Tier::Unknown && Tier::Unknown < Tier::Free);
    assert_eq!(Tier::default(), Tier::Unknown);
}

#[test]
fn accounts_defaults() {
    let m = parse(OK_SESSION).expect("valid");
    assert_eq!(m.accounts, AccountsConfig::default());
    assert!(m.accounts.accounts.is_empty());
    assert!(!m.accounts.brokered(AgentKind::Codex));
    let d = AccountsConfig::default();
    assert_eq!(d.cooldown, Duration::from_secs(300));
    assert_eq!(d.circuit_failures, 3);
    assert_eq!(d.circuit_window, Duration::from_secs(600));

    // Settings without accounts, and accounts without settings.
    let text = format!("{OK_SESSION}[accounts]\nauth_dir = \"/etc/baton/auth\"\n");
    let m = parse(&text).expect("valid");
    assert_eq!(m.accounts.auth_dir, PathBuf::from("/etc/baton/auth"));
    assert_eq!(m.accounts.state_dir, d.state_dir);
    assert!(m.accounts.accounts.is_empty());
    let text = format!(
        "{OK_SESSION}[[accounts.claude]]\nid = \"c\"\nmode = \"auth\"\nauth_file = \"c.json\"\n"
    );
    let m = parse(&text).expect("valid");
    assert_eq!(
        m.accounts.accounts,
        [AccountSpec {
            auth_file: Some(PathBuf::from("c.json")),
            ..account("c", AgentKind::Claude, AccountMode::Auth)
        }]
    );
    assert_eq!(m.accounts.auth_dir, d.auth_dir);
}

#[test]
fn accounts_tilde_without_home() {
    let text = format!("{OK_SESSION}[accounts]\nauth_dir = \"~/auth\"\n");
    for home in [None, Some(Path::new("relative/home"))] {
        let err = Manifest::parse_with_home(&text, None, Path::new(BASE), home, None)
            .expect_err("no usable HOME");
        assert_eq!(
            err.to_string(),
            "<manifest>:4:12: `auth_dir` in [accounts] starts with `~` but HOME is not set to an absolute path"
        );
    }
}

#[test]
fn account_paths_expand() {
    use crate::accounts::expand_path;
    let home = Some(Path::new("/home/u"));
    let base = Some(Path::new("/m"));
    let ok = |s: &str, base: Option<&Path>| expand_path(s, home, base).expect(s);
    assert_eq!(ok("~", base), PathBuf::from("/home/u"));
    assert_eq!(ok("~/", base), PathBuf::from("/home/u"));
    assert_eq!(ok("~/a/b", base), PathBuf::from("/home/u/a/b"));
    assert_eq!(ok("~//a", None), PathBuf::from("/home/u/a"));
    assert_eq!(ok("/abs/x", base), PathBuf::from("/abs/x"));
    assert_eq!(ok("rel/x", base), PathBuf::from("/m/rel/x"));
    assert_eq!(ok("rel/x", None), PathBuf::from("rel/x"));
    assert_eq!(ok("./~/x", base), PathBuf::from("/m/./~/x"));
    assert!(expand_path("", home, base).is_err());
    assert!(expand_path("~bob", home, base).is_err());
    assert!(expand_path("~bob/x", home, base).is_err());
    assert!(expand_path("~/x", None, base).is_err());
    assert!(expand_path("~", Some(Path::new("rel")), base).is_err());
    assert!(expand_path("rel", None, base).is_ok());
}

#[test]
fn account_ids_follow_the_session_id_rule() {
    for ok in ["a", "A1", "0", "work-1", "a.b_c-d", &"x".repeat(64)] {
        assert!(crate::accounts::valid_account_id(ok), "{ok}");
    }
    for bad in ["", "-a", ".a", "a b", "a/b", "é", "a\0", &"x".repeat(65)] {
        assert!(!crate::accounts::valid_account_id(bad), "{bad:?}");
    }
}

#[test]
fn unknown_provider_points_at_its_name() {
    let text = format!("{OK_SESSION}\n[[accounts.foo]]\nid = \"a\"\n");
    let err = parse(&text).expect_err("unknown provider");
    let ConfigError::Invalid(inv) = &err else {
        panic!("not Invalid: {err:?}")
    };
    assert_eq!(&text[inv.span().expect("span")], "foo");
    assert_eq!((err.line(), err.column()), (Some(4), Some(12)));
}

#[test]
fn specs_serialize_with_humantime_durations() {
    let m = parse(FULL).expect("valid");
    let spec = toml::to_string(&m.sessions[0]).expect("serialize");
    assert!(spec.contains("stall_after = \"1m\""), "{spec}");
    assert!(spec.contains("startup_timeout = \"3m\""), "{spec}");
    assert!(spec.contains("agent = \"codex\""), "{spec}");
    assert!(spec.contains("id = \"review-1\""), "{spec}");
    assert!(spec.contains("backend = \"pty\""), "{spec}");
    assert!(spec.contains("rule = \"yes_no\""), "{spec}");
    let agents = toml::to_string(&m.agents).expect("serialize");
    assert!(agents.contains("name = \"claude_trust\""), "{agents}");
    let conductor = toml::to_string(&m.conductor).expect("serialize");
    assert!(
        conductor.contains("reset_after = \"1h 30m\""),
        "{conductor}"
    );
    assert!(conductor.contains("backoff = \"500ms\""), "{conductor}");
    assert!(conductor.contains("fsync = \"always\""), "{conductor}");
    let probe = toml::to_string(&m.probe).expect("serialize");
    assert!(probe.contains("health_interval = \"1m\""), "{probe}");
}

#[test]
fn log_sizes_read_as_bytes_or_with_a_binary_unit() {
    const SESSION: &str = "[[session]]\ncommand = [\"x\"]\n";
    for (given, bytes) in [
        ("0", 0),
        ("65536", 65536),
        ("\"64KiB\"", 64 << 10),
        ("\"512 KiB\"", 512 << 10),
        ("\"64MiB\"", 64 << 20),
        ("\"2M\"", 2 << 20),
        ("\"1GiB\"", 1 << 30),
        ("\"1G\"", 1 << 30),
    ] {
        let m = parse(&format!(
            "[conductor]\nmax_log_size = {given}\nkeep_segments = 3\n{SESSION}"
        ))
        .unwrap_or_else(|e| panic!("{given}: {e}"));
        assert_eq!(m.conductor.max_log_size, bytes, "{given}");
        assert_eq!(m.conductor.keep_segments, Some(3));
    }
    let d = parse(SESSION).unwrap().conductor;
    assert_eq!((d.max_log_size, d.keep_segments), (64 << 20, None));
}

#[test]
fn defaults() {
    let m = parse(OK_SESSION).expect("valid");
    assert_eq!(
        m.conductor,
        ConductorConfig {
            logs_dir: PathBuf::from("/work/proj/.baton/logs"),
            ..ConductorConfig::default()
        }
    );
    let c = ConductorConfig::default();
    assert_eq!(c.logs_dir, PathBuf::from(".baton/logs"));
    assert_eq!(c.max_restarts, 3);
    assert_eq!(c.grace, Duration::from_secs(10));
    assert_eq!(c.backoff, Duration::from_secs(1));
    assert_eq!(c.backoff_max, Duration::from_secs(30));
    assert_eq!(c.reset_after, Duration::from_secs(600));
    assert_eq!(c.fsync, FsyncPolicy::Batch);
    assert_eq!(c.rate_limit_cooldown, Duration::from_secs(300));
    assert_eq!(c.tail_bytes, 2048);
    assert_eq!(c.remote_timeout, Duration::from_secs(15));

    assert_eq!(m.probe, ProbeConfig::default());
    let p = ProbeConfig::default();
    assert_eq!(p.stall_after, Duration::from_secs(30));
    assert_eq!(p.startup_timeout, Duration::from_secs(120));
    assert_eq!(p.on_stall, OnStall::Mark);
    assert_eq!(p.stall_restart_after, Duration::from_secs(300));
    assert_eq!(p.health_interval, None);
    assert_eq!(p.l2_check, None);
    assert_eq!(p.l2_interval, Duration::from_secs(30));
    assert_eq!(p.l2_failures, 3);

    assert_eq!(m.agents, AgentsConfig::default());
    let s = &m.sessions[0];
    let mut expected = SessionSpec::command(id("command-1"), strings(&["true"]));
    expected.workdir = Some(PathBuf::from(BASE));
    assert_eq!(*s, expected);

    assert_eq!(default_stdin(AgentKind::Codex), StdinMode::Null);
    assert_eq!(default_stdin(AgentKind::Gemini), StdinMode::Null);
    assert_eq!(default_stdin(AgentKind::Claude), StdinMode::Null);
    assert_eq!(default_stdin(AgentKind::Command), StdinMode::Pipe);
    assert_eq!(s.effective_stdin(&m.agents), StdinMode::Pipe);
}

#[test]
fn backend_defaults_to_pipes_and_allows_a_pipe_stdin() {
    let m = parse(OK_SESSION).expect("valid");
    assert_eq!(m.sessions[0].backend, Backend::Pipes);
    assert!(m.sessions[0].answers.is_empty());
    assert!(m.agents.claude.input_wait.is_empty());
    assert_eq!(
        SessionSpec::command(id("x"), strings(&["true"])).backend,
        Backend::Pipes
    );
    for backend in Backend::BUILT_IN {
        let text =
            format!("[[session]]\ncommand = [\"x\"]\nbackend = \"{backend}\"\nstdin = \"pipe\"\n");
        let m = parse(&text).expect("valid");
        assert_eq!(&m.sessions[0].backend, backend);
        assert_eq!(m.sessions[0].stdin, Some(StdinMode::Pipe));
    }
    let m = parse("[[session]]\ncommand = [\"x\"]\nbackend = \"pipes\"\nstdin = \"null\"\n")
        .expect("valid");
    assert_eq!(m.sessions[0].stdin, Some(StdinMode::Null));
}

#[test]
fn terminal_backend_only_rejects_an_explicit_null_stdin() {
    // claude defaults to stdin = null, and [agents.X] may say null too: on a
    // terminal backend those defaults do not apply, so they are no error.
    let text = "[agents.codex]\nstdin = \"null\"\n\n[[session]]\nagent = \"claude\"\nprompt = \"p\"\nbackend = \"pty\"\n\n[[session]]\nagent = \"codex\"\nprompt = \"p\"\nbackend = \"pty\"\n";
    let m = parse(text).expect("valid");
    assert_eq!(m.sessions[0].backend, Backend::Pty);
    assert_eq!(m.sessions[0].stdin, None);
    assert_eq!(m.sessions[1].backend, Backend::Pty);
}

#[test]
fn stdin_null_on_a_terminal_points_at_stdin() {
    let text = "[[session]]\nid = \"t\"\ncommand = [\"x\"]\nbackend = \"pty\"\nstdin = \"null\"\n";
    let err = parse(text).expect_err("null stdin on pty");
    assert_eq!(
        err.to_string(),
        "baton.toml:5:9: `stdin` in [[session]] #1 (`t`) is \"null\" but `backend` is \"pty\": \
         a terminal always has input; remove `stdin` or use backend = \"pipes\""
    );
    let ConfigError::Invalid(inv) = &err else {
        panic!("not Invalid: {err:?}")
    };
    assert_eq!(&text[inv.span().expect("span")], "\"null\"");
}

#[test]
fn bad_regex_error_is_one_line_at_the_pattern() {
    let text =
        format!("{OK_SESSION}\n[[session.answer]]\npattern = 'cargo (test'\nreply = \"y\"\n");
    let err = parse(&text).expect_err("bad regex");
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "baton.toml:5:11: `answer[0].pattern` in [[session]] #1 (`command-1`) is not a valid \
             regex: regex parse error: "
        ),
        "{shown}"
    );
    assert!(
        shown.ends_with("regex parse error: cargo (test; error: unclosed group"),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "{shown}");
    let ConfigError::Invalid(inv) = &err else {
        panic!("not Invalid: {err:?}")
    };
    assert_eq!(&text[inv.span().expect("span")], "'cargo (test'");

    // A pattern with a newline in it: regex numbers the lines; still one line.
    let text = "[[agents.claude.input_wait]]\nname = \"x\"\npattern = \"a\\n(b\"\n\n[[session]]\ncommand = [\"x\"]\n";
    let shown = parse(text).expect_err("bad regex").to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(shown.starts_with("baton.toml:3:11: "), "{shown}");
}

#[test]
fn answer_replies_are_never_shown() {
    for reply in ["\"y\\nhunter2\"", "\"y\\rhunter2\"", "\"hunter2\\u0000\""] {
        let text = format!("{OK_SESSION}[[session.answer]]\npattern = 'x'\nreply = {reply}\n");
        let err = parse(&text).expect_err("bad reply");
        assert_eq!(err.line(), Some(5), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn rule_names() {
    for ok in ["a", "yes_no", "claude_trust", "0", "_", &"x".repeat(40)] {
        assert!(valid_rule_name(ok), "{ok}");
    }
    for bad in [
        "",
        "Yes",
        "yes-no",
        "a b",
        "a.b",
        "é",
        "a\0",
        &"x".repeat(41),
    ] {
        assert!(!valid_rule_name(bad), "{bad:?}");
    }
    assert!(RULE_NAME_RULE.contains("1 to 40"));
}

#[test]
fn answers_keep_file_order_and_empty_replies() {
    let text = format!(
        "{OK_SESSION}[[session.answer]]\npattern = 'rm -rf'\nreply = \"n\"\n\n\
         [[session.answer]]\npattern = '.'\nreply = \"\"\nrule = \"yes_no\"\n"
    );
    let m = parse(&text).expect("valid");
    assert_eq!(
        m.sessions[0].answers,
        [answer("rm -rf", "n", None), answer(".", "", Some("yes_no"))]
    );
}

#[test]
fn zero_health_interval_means_off() {
    let m = parse(&format!("[probe]\nhealth_interval = \"0s\"\n{OK_SESSION}")).expect("valid");
    assert_eq!(m.probe.health_interval, None);
}

#[test]
fn model_and_profile_on_command_are_accepted() {
    let m =
        parse("[[session]]\ncommand = [\"x\"]\nmodel = \"m\"\nprofile = \"p\"\n").expect("valid");
    assert_eq!(m.sessions[0].model.as_deref(), Some("m"));
}

#[test]
fn session_id_rule() {
    for ok in ["a", "A1", "0", "review-1", "a.b_c-d", &"x".repeat(64)] {
        assert_eq!(
            ok.parse::<SessionId>().map(|i| i.to_string()),
            Ok(ok.to_owned())
        );
    }
    for bad in [
        "",
        "-a",
        ".a",
        "_a",
        "a b",
        "a/b",
        "é",
        "a\0",
        &"x".repeat(65),
    ] {
        let err = bad.parse::<SessionId>().expect_err(bad);
        assert!(err.to_string().contains(SESSION_ID_RULE), "{err}");
    }
    let i = id("abc");
    assert_eq!(i.as_str(), "abc");
    assert_eq!(AsRef::<str>::as_ref(&i), "abc");
}

#[test]
fn enums_display_and_parse_lowercase() {
    for k in AgentKind::ALL {
        assert_eq!(k.as_str().parse::<AgentKind>(), Ok(*k));
        assert_eq!(k.to_string(), k.as_str());
    }
    for f in FsyncPolicy::ALL {
        assert_eq!(f.to_string().parse::<FsyncPolicy>(), Ok(*f));
    }
    assert_eq!(FsyncPolicy::Batch.to_string(), "batch");
    assert_eq!(OnStall::Restart.to_string(), "restart");
    assert_eq!(StdinMode::Null.to_string(), "null");
    for b in Backend::BUILT_IN {
        assert_eq!(b.as_str().parse::<Backend>().as_ref(), Ok(b));
        assert_eq!(b.to_string(), b.as_str());
    }
    assert_eq!(
        Backend::BUILT_IN
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>(),
        ["pipes", "pty", "tmux"]
    );
    // Any other well-formed name is a registered backend's, for the
    // conductor (or the rules that know its backends) to accept.
    assert_eq!(
        "micro-vm".parse::<Backend>(),
        Ok(Backend::Custom("micro-vm".into()))
    );
    assert!(!Backend::Custom("micro-vm".into()).is_terminal());
    assert_eq!(Backend::default(), Backend::Pipes);
    assert!(!Backend::Pipes.is_terminal());
    assert!(Backend::Pty.is_terminal() && Backend::Tmux.is_terminal());
    assert_eq!(
        "SSH".parse::<Backend>().expect_err("unknown").to_string(),
        format!(
            "unknown backend `SSH`, expected one of `pipes`, `pty`, `tmux` (or the name of a \
             registered backend: {BACKEND_NAME_RULE})"
        )
    );
    for bad in ["", "a b", "x/y", &"n".repeat(41)] {
        assert!(bad.parse::<Backend>().is_err(), "{bad:?}");
    }
    let err = "Codex".parse::<AgentKind>().expect_err("case matters");
    assert_eq!(
        err.to_string(),
        "unknown agent `Codex`, expected one of `codex`, `gemini`, `claude`, `command`"
    );
}

/// Every `[hosts.NAME]` setting, and sessions placed every way.
const HOSTS_FULL: &str = r#"
[conductor]
remote_timeout = "20s"

[hosts.gpu-1]
address = "gpu1.example.com"
user = "agent"
port = 2222
identity = "~/.ssh/baton_ed25519"
multiplexer = "tmux"
max_sessions = 8
ssh_options = ["ServerAliveInterval=5", "StrictHostKeyChecking = yes"]
remote_timeout = "30s"

[hosts."win.box"]
address = "10.0.0.7"
multiplexer = "psmux"
identity = "keys/win"

[hosts]
min = { address = "min" }

[[session]]
id = "here"
command = ["x"]
host = "local"
backend = "pty"

[[session]]
id = "there"
command = ["x"]
host = "gpu-1"
workdir = "/srv/repo"

[[session]]
id = "anywhere"
agent = "codex"
prompt = "fix it"
host = "any"
backend = "tmux"
"#;

fn parse_hosts_full(hosts_file: Option<&HostsFile>) -> Manifest {
    Manifest::parse_with_home(
        HOSTS_FULL,
        Some(Path::new("baton.toml")),
        Path::new(BASE),
        Some(Path::new("/home/tester")),
        hosts_file,
    )
    .expect("valid")
}

#[test]
fn hosts_round_trip() {
    let m = parse_hosts_full(None);
    assert_eq!(m.conductor.remote_timeout, Duration::from_secs(20));
    assert_eq!(
        m.hosts.keys().collect::<Vec<_>>(),
        ["gpu-1", "min", "win.box"]
    );
    assert_eq!(
        m.hosts["gpu-1"],
        HostConfig {
            name: "gpu-1".into(),
            address: "gpu1.example.com".into(),
            user: Some("agent".into()),
            port: 2222,
            identity: Some(PathBuf::from("/home/tester/.ssh/baton_ed25519")),
            multiplexer: Multiplexer::Tmux,
            max_sessions: 8,
            ssh_options: strings(&["ServerAliveInterval=5", "StrictHostKeyChecking = yes"]),
            remote_timeout: Some(Duration::from_secs(30)),
        }
    );
    assert_eq!(
        m.hosts["win.box"],
        HostConfig {
            multiplexer: Multiplexer::Psmux,
            identity: Some(PathBuf::from("/work/proj/keys/win")),
            ..HostConfig::new("win.box", "10.0.0.7")
        }
    );
    let min = &m.hosts["min"];
    assert_eq!(*min, HostConfig::new("min", "min"));
    assert_eq!((min.port, min.max_sessions), (22, 4));
    assert_eq!(
        min.remote_timeout_or(m.conductor.remote_timeout),
        Duration::from_secs(20)
    );
    assert_eq!(
        m.hosts["gpu-1"].remote_timeout_or(m.conductor.remote_timeout),
        Duration::from_secs(30)
    );

    let [here, there, anywhere] = &m.sessions[..] else {
        panic!("three sessions: {:?}", m.sessions)
    };
    // "local" is the same as no host; a local session keeps its backend and
    // gets the manifest's directory as its workdir.
    assert_eq!(here.host, None);
    assert_eq!(here.placement(), Placement::Local);
    assert!(!here.is_remote());
    assert_eq!(here.backend, Backend::Pty);
    assert_eq!(here.workdir.as_deref(), Some(Path::new(BASE)));
    // A remote session runs in tmux, in a remote path kept as written.
    assert_eq!(there.host.as_deref(), Some("gpu-1"));
    assert_eq!(there.placement(), Placement::Host("gpu-1"));
    assert!(there.is_remote());
    assert_eq!(there.backend, Backend::Tmux);
    assert_eq!(there.workdir.as_deref(), Some(Path::new("/srv/repo")));
    // No local default workdir for a remote session: it would not exist there.
    assert_eq!(anywhere.host.as_deref(), Some("any"));
    assert_eq!(anywhere.placement(), Placement::AnyHost);
    assert_eq!(anywhere.backend, Backend::Tmux);
    assert_eq!(anywhere.workdir, None);

    let spec = toml::to_string(there).expect("serialize");
    assert!(spec.contains("host = \"gpu-1\""), "{spec}");
    assert!(!toml::to_string(here).expect("serialize").contains("host"));
    let hosts = toml::to_string(&m.hosts).expect("serialize");
    assert!(hosts.contains("remote_timeout = \"30s\""), "{hosts}");
    assert!(hosts.contains("multiplexer = \"psmux\""), "{hosts}");
}

#[test]
fn placement_of_hand_built_specs() {
    let mut spec = SessionSpec::command(id("a"), strings(&["x"]));
    let cases: &[(Option<&str>, Placement<'_>)] = &[
        (None, Placement::Local),
        (Some("local"), Placement::Local),
        (Some("any"), Placement::AnyHost),
        (Some("gpu"), Placement::Host("gpu")),
    ];
    for (host, want) in cases {
        spec.host = host.map(str::to_owned);
        assert_eq!(spec.placement(), *want, "{host:?}");
        assert_eq!(spec.is_remote(), *want != Placement::Local, "{host:?}");
    }
}

#[test]
fn host_names_follow_the_session_id_rule_minus_reserved_words() {
    for ok in [
        "gpu",
        "gpu-1",
        "a",
        "10.0.0.7",
        "Box_2.lan",
        &"h".repeat(64),
    ] {
        assert!(valid_host_name(ok), "{ok}");
    }
    for bad in [
        "",
        "any",
        "local",
        "-gpu",
        ".gpu",
        "a b",
        "a@b",
        "a/b",
        "$(x)",
        &"h".repeat(65),
    ] {
        assert!(!valid_host_name(bad), "{bad}");
    }
}

const HOSTS_TOML: &str = r#"# the user's own machines
[hosts.gpu-1]
address = "personal-gpu"
identity = "id_gpu"

[hosts.build]
address = "build.lan"
user = "ci"
"#;

#[test]
fn hosts_file_adds_hosts_and_the_manifest_wins() {
    let file = parse_hosts_file(
        HOSTS_TOML,
        Path::new("/home/tester/.config/baton/hosts.toml"),
        Some(Path::new("/home/tester")),
    )
    .expect("valid hosts file");
    assert_eq!(file.hosts.len(), 2);
    // Relative identities are relative to the hosts file's directory.
    assert_eq!(
        file.hosts["gpu-1"].identity.as_deref(),
        Some(Path::new("/home/tester/.config/baton/id_gpu"))
    );

    let m = parse_hosts_full(Some(&file));
    assert_eq!(
        m.hosts.keys().collect::<Vec<_>>(),
        ["build", "gpu-1", "min", "win.box"]
    );
    // Defined in both: the manifest's entry, whole (not merged field by field).
    assert_eq!(m.hosts["gpu-1"].address, "gpu1.example.com");
    assert_eq!(
        m.hosts["gpu-1"].identity.as_deref(),
        Some(Path::new("/home/tester/.ssh/baton_ed25519"))
    );
    assert_eq!(m.hosts["build"].user.as_deref(), Some("ci"));

    // A session may name a host that only the file defines.
    let text = "[[session]]\ncommand = [\"x\"]\nhost = \"build\"\n";
    let m = Manifest::parse_with_hosts(text, None, Path::new(BASE), Some(&file)).expect("valid");
    assert_eq!(m.sessions[0].host.as_deref(), Some("build"));
    let err = parse(text).expect_err("not without the file");
    assert!(
        err.message().contains("not in the hosts inventory"),
        "{err}"
    );
}

#[test]
fn hosts_file_errors_name_the_hosts_file() {
    let path = Path::new("/home/tester/.config/baton/hosts.toml");
    let cases: &[(&str, &str)] = &[
        (
            "[hosts.gpu]\naddress = \"gpu\"\nport = 0\n",
            "/home/tester/.config/baton/hosts.toml:3:8: `port` in [hosts.gpu] is 0, must be within 1..=65535",
        ),
        (
            "[hosts.gpu]\naddress = \"gpu\"\n\n[[session]]\ncommand = [\"x\"]\n",
            "/home/tester/.config/baton/hosts.toml:4:3: unknown field `session` at the top level, expected `hosts`",
        ),
        (
            "[hosts.a]\nuser = \"x\"\n",
            "/home/tester/.config/baton/hosts.toml:1:1: [hosts.a] has no `address`",
        ),
        ("[hosts.a\n", "/home/tester/.config/baton/hosts.toml:1:9: "),
    ];
    for (text, want) in cases {
        let err = parse_hosts_file(text, path, None).expect_err(text);
        let shown = err.to_string();
        assert!(shown.starts_with(want), "{shown}\nwant: {want}");
        assert!(!shown.contains('\n'), "{shown}");
    }
}

#[test]
fn load_reads_the_hosts_file_when_present() {
    let dir = std::env::temp_dir().join(format!("baton-config-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let manifest = dir.join("baton.toml");
    let hosts = dir.join("hosts.toml");
    std::fs::write(
        &manifest,
        "[[session]]\ncommand = [\"x\"]\nhost = \"build\"\n",
    )
    .expect("write");
    std::fs::write(&hosts, HOSTS_TOML).expect("write");
    let with = Manifest::load_with_hosts_file(&manifest, Some(&hosts));
    let missing = Manifest::load_with_hosts_file(&manifest, Some(&dir.join("nope.toml")));
    std::fs::write(&hosts, "[hosts.build]\naddress = \"\"\n").expect("write");
    let broken = Manifest::load_with_hosts_file(&manifest, Some(&hosts));
    let _ = std::fs::remove_dir_all(&dir);

    let with = with.expect("valid");
    assert_eq!(with.hosts["build"].address, "build.lan");
    assert_eq!(
        with.hosts["gpu-1"].identity.as_deref(),
        Some(dir.join("id_gpu").as_path())
    );
    // A missing hosts file is no hosts file; the session then names nothing.
    let err = missing.expect_err("no host `build`");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3:8: ", manifest.display())),
        "{err}"
    );
    let err = broken.expect_err("broken hosts file");
    assert!(
        err.to_string().starts_with(&format!(
            "{}:2:11: `address` in [hosts.build] must not be empty",
            hosts.display()
        )),
        "{err}"
    );
}

proptest! {
    #[test]
    fn hosts_file_parse_never_panics(text in "[\\[\\]a-z_\"'=.,{} \n0-9\\\\#-]{0,200}") {
        if let Err(e) = parse_hosts_file(&text, Path::new("hosts.toml"), None) {
            prop_assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = Manifest::parse(&text, None, Path::new("/"));
    }

    #[test]
    fn parse_never_panics_on_tomlish_text(text in "[\\[\\]a-z_\"'=.,{} \n0-9\\\\#-]{0,200}") {
        let _ = Manifest::parse(&text, None, Path::new("/"));
    }

    #[test]
    fn parse_never_panics_on_mutated_manifest(
        seed in prop::sample::select(&[FULL, ACCOUNTS_FULL, RULES_FULL, HOSTS_FULL][..]),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, "\\PC{0,4}"), 1..8)
    ) {
        let mut text = seed.to_owned();
        for (at, op, insert) in edits {
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            match op {
                0 => text.insert_str(pos, &insert),
                1 => {
                    let mut end = (pos + insert.len().max(1)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(pos..end, "");
                }
                _ => {
                    let mut end = (pos + 1).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(pos..end, &insert);
                }
            }
        }
        if let Err(e) = Manifest::parse(&text, None, Path::new("/")) {
            let shown = e.to_string();
            prop_assert!(!shown.contains('\n'), "not one line: {}", shown);
            prop_assert!(!shown.contains("s3cret") && !shown.contains("WORK_KEY") && !shown.contains("GEMINI_WORK"), "leak: {}", shown);
        }
    }

    #[test]
    fn valid_ids_round_trip(s in "[A-Za-z0-9][A-Za-z0-9._-]{0,63}") {
        let parsed: SessionId = s.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(parsed.as_str(), s.as_str());
    }
}

#[test]
fn a_config_may_hold_no_session_but_is_checked_like_a_manifest() {
    let dir = std::env::temp_dir().join(format!("baton-config-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let good = dir.join("daemon.toml");
    std::fs::write(&good, "[conductor]\nmax_restarts = 7\n").expect("write");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[conductor]\ngrace = \"0s\"\n").expect("write");
    let original = std::fs::read(&good).expect("read");
    let loaded = Manifest::load_config(&good);
    let as_manifest = Manifest::load(&good);
    let broken = Manifest::load_config(&bad);
    let after = std::fs::read(&good).expect("read");
    let _ = std::fs::remove_dir_all(&dir);

    let config = loaded.expect("a config without sessions");
    assert!(config.sessions.is_empty());
    assert_eq!(config.conductor.max_restarts, 7);
    assert_eq!(after, original, "the file is read, never rewritten");
    let err = as_manifest.expect_err("a manifest needs a session");
    assert_eq!(err.message(), "manifest has no [[session]] entries");
    let err = broken.expect_err("a bad config");
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(
        err.message()
            .contains("`grace` in [conductor] must be greater than zero"),
        "{err}"
    );
}

#[test]
fn nul_characters_in_session_strings_are_refused_with_their_line() {
    let cases = [
        (
            "prompt",
            "[[session]]\nagent = \"claude\"\nprompt = \"a\\u0000b\"\n",
            3,
        ),
        ("command", "[[session]]\ncommand = [\"tr\\u0000ue\"]\n", 2),
        (
            "env value",
            "[[session]]\ncommand = [\"true\"]\nenv = { K = \"v\\u0000\" }\n",
            3,
        ),
        (
            "model",
            "[[session]]\nagent = \"claude\"\nprompt = \"p\"\nmodel = \"m\\u0000\"\n",
            4,
        ),
    ];
    for (what, text, line) in cases {
        let err = parse(text).expect_err(what);
        assert_eq!(err.line(), Some(line), "{what}: {err}");
        assert!(err.message().contains("NUL"), "{what}: {err}");
        assert!(!err.message().contains('\0'), "{what}: {err}");
    }
}

#[test]
fn the_session_checker_judges_a_table_without_a_file() {
    use baton_proto::{SpawnAnswer, SpawnCommand, SpawnSpec};
    let rules = SessionRules {
        table: "the spawn request",
        base_dir: None,
        hosts: None,
        backends: None,
    };
    let table = |edit: fn(&mut SpawnSpec)| {
        let mut t = SpawnSpec {
            id: Some("w1".into()),
            command: Some(SpawnCommand::Argv(strings(&["true"]))),
            ..SpawnSpec::default()
        };
        edit(&mut t);
        t
    };
    let none = Spans::default();
    let spec = check_session(table(|_| {}), &rules, &none).expect("valid");
    assert_eq!(spec.id, id("w1"));
    assert_eq!(spec.workdir, None, "no base dir: no default workdir");
    let err = check_session(table(|t| t.workdir = Some("rel".into())), &rules, &none)
        .expect_err("relative workdir");
    assert_eq!(err.field, SessionField::Workdir);
    assert_eq!(err.at, None);
    assert!(err.message.contains("not an absolute path"), "{err}");
    let bad_regex = || {
        table(|t| {
            t.answers = vec![SpawnAnswer {
                pattern: Some("(".into()),
                reply: Some("y".into()),
                rule: None,
            }]
        })
    };
    let err = check_session(bad_regex(), &rules, &none).expect_err("bad regex");
    assert_eq!(err.field, SessionField::Answer);
    assert!(
        err.message
            .starts_with("`answer[0].pattern` in the spawn request (`w1`) is not a valid regex"),
        "{err}"
    );
    // Without an inventory a well-formed host name passes (the daemon
    // places it); a malformed one does not.
    let spec =
        check_session(table(|t| t.host = Some("gpu".into())), &rules, &none).expect("a host name");
    assert_eq!(spec.backend, Backend::Tmux);
    let err = check_session(table(|t| t.host = Some("$(x)".into())), &rules, &none)
        .expect_err("bad host");
    assert_eq!(err.field, SessionField::Host);
    // A command string is split as a shell would, and run without one.
    let spec = check_session(
        table(|t| t.command = Some(SpawnCommand::Line("python3 'my worker.py' -v".into()))),
        &rules,
        &none,
    )
    .expect("a command string");
    assert_eq!(
        spec.command,
        Some(strings(&["python3", "my worker.py", "-v"]))
    );
    // Spans point an error at the value that broke the rule.
    let spans = Spans {
        table: Some(0..10),
        values: [("answer.0.pattern".to_owned(), 40..43)].into(),
    };
    let err = check_session(bad_regex(), &rules, &spans).unwrap_err();
    assert_eq!(err.at, Some(40..43));
}

#[test]
fn a_registered_backend_is_named_where_the_rules_know_it() {
    use baton_proto::{SpawnBackend, SpawnCommand, SpawnSpec};
    let microvm = || Backend::Custom("microvm".into());
    let table = || SpawnSpec {
        id: Some("w1".into()),
        command: Some(SpawnCommand::Argv(strings(&["true"]))),
        backend: Some(SpawnBackend::Named("microvm".into())),
        ..SpawnSpec::default()
    };
    let registered = ["microvm".to_owned()];
    let rules = |backends| SessionRules {
        table: "the spawn request",
        base_dir: None,
        hosts: None,
        backends,
    };
    let none = Spans::default();
    // Form only (a client that does not run the session), or registered.
    for known in [None, Some(&registered[..])] {
        let spec = check_session(table(), &rules(known), &none).expect("known or unchecked");
        assert_eq!(spec.backend, microvm());
    }
    let err = check_session(table(), &rules(Some(&[])), &none).expect_err("not registered");
    assert_eq!(err.field, SessionField::Backend);
    assert_eq!(
        err.message,
        "`backend` in the spawn request (`w1`) is \"microvm\", which is no backend here: \
         expected one of `pipes`, `pty`, `tmux`"
    );
    // A remote session runs in tmux, whatever is registered.
    let mut remote = table();
    remote.host = Some("gpu".into());
    let err = check_session(remote, &rules(Some(&registered)), &none).expect_err("remote");
    assert_eq!(err.field, SessionField::Backend);

    // A manifest loaded for a program with registered backends.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.toml");
    std::fs::write(
        &path,
        "[[session]]\nid = \"v\"\ncommand = [\"true\"]\nbackend = \"microvm\"\n",
    )
    .unwrap();
    let m = Manifest::load_with_backends(&path, &registered).expect("registered");
    assert_eq!(m.sessions[0].backend, microvm());
    let err = Manifest::load(&path).expect_err("not registered");
    assert!(err.to_string().contains("no backend here"), "{err}");
}

#[test]
fn worktree_is_true_false_or_a_table() {
    let m = parse(
        "[[session]]\nid = \"a\"\ncommand = [\"x\"]\nworktree = true\n\
         [[session]]\nid = \"b\"\ncommand = [\"x\"]\nworktree = false\n\
         [[session]]\nid = \"c\"\ncommand = [\"x\"]\n\
         [session.worktree]\nbase = \"origin/main\"\nbranch = \"agents/c\"\n\
         setup = \"npm ci\"\ncopy = [\".env\", \"config/local.toml\"]\n",
    )
    .expect("valid");
    let a = m.sessions[0].worktree.as_ref().expect("worktree = true");
    assert_eq!(a, &WorktreeSpec::default());
    assert_eq!(a.branch_for(&id("a")), "baton/a");
    assert_eq!(a.base_or_head(), "HEAD");
    assert_eq!(m.sessions[1].worktree, None);
    let c = m.sessions[2].worktree.as_ref().expect("a table");
    assert_eq!(c.base.as_deref(), Some("origin/main"));
    assert_eq!(c.branch_for(&id("c")), "agents/c");
    assert_eq!(c.setup, Some(strings(&["npm", "ci"])));
    assert_eq!(
        c.copy,
        [PathBuf::from(".env"), PathBuf::from("config/local.toml")]
    );
}

fn session_file(text: &str) -> Result<SessionFile, ConfigError> {
    SessionFile::parse(text, Some(Path::new("s.toml")), Path::new(BASE))
}

#[test]
fn a_session_file_holds_one_session_with_the_lines_of_its_keys() {
    let file = session_file(
        "# one worker\n[session]\nid = \"w1\"\ncommand = [\"make\"]\n\nworkdir = \"/srv/w\"\nhost = \"box\"\n",
    )
    .unwrap();
    assert_eq!(file.session.id, id("w1"));
    assert_eq!(
        file.session.host.as_deref(),
        Some("box"),
        "not checked here"
    );
    assert_eq!(file.session.backend, Backend::Tmux);
    let lines: Vec<(&str, usize)> = file.lines.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        lines,
        [("command", 4), ("host", 7), ("id", 3), ("workdir", 6)]
    );
    // The same with `[[session]]`; a local workdir is joined onto the base.
    let file = session_file("[[session]]\ncommand = [\"true\"]\nworkdir = \"sub\"\n").unwrap();
    assert_eq!(file.session.workdir, Some(PathBuf::from(BASE).join("sub")));
    // A host name of the wrong form is still refused here, at its line.
    let err = session_file("[session]\ncommand = [\"true\"]\nhost = \"-x\"\n").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
}

#[test]
fn a_session_file_refuses_every_other_table_and_says_where_it_belongs() {
    let cases = [
        (
            "[agents.claude]\nbin = \"/opt/claude\"\n",
            1,
            "agents",
            "daemon's config",
        ),
        (
            "[conductor]\nmax_restarts = 1\n",
            1,
            "conductor",
            "daemon's config",
        ),
        (
            "[hosts.box]\naddress = \"10.0.0.1\"\n",
            1,
            "hosts",
            "hosts.toml",
        ),
        ("[accounts]\n", 1, "accounts", "daemon's config"),
        (
            "[pricing.codex]\ninput = 1\noutput = 2\n",
            1,
            "pricing",
            "daemon's config",
        ),
        (
            "[[notify]]\non = [\"dead\"]\ncommand = [\"true\"]\n",
            1,
            "notify",
            "daemon's config",
        ),
        (
            "[probe]\nstall_after = \"1s\"\n",
            1,
            "probe",
            "daemon's config",
        ),
    ];
    for (table, line, name, belongs) in cases {
        // Before and after the session table alike.
        for text in [
            format!("[session]\ncommand = [\"true\"]\n{table}"),
            format!("{table}[[session]]\ncommand = [\"true\"]\n"),
        ] {
            let err = session_file(&text).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("`{name}`")) && message.contains(belongs),
                "{text}: {message}"
            );
            let want = if text.starts_with("[session]") {
                line + 2
            } else {
                line
            };
            assert_eq!(err.line(), Some(want), "{text}: {message}");
        }
    }
    // A key before any table is at the top level.
    let err = session_file("bogus = 1\n[session]\ncommand = [\"true\"]\n").unwrap_err();
    assert!(err.to_string().contains("not a baton setting"), "{err}");
    assert_eq!(err.line(), Some(1));
    let err = session_file("[[session]]\ncommand = [\"a\"]\n[[session]]\ncommand = [\"b\"]\n")
        .unwrap_err();
    assert!(err.to_string().contains("exactly one"), "{err}");
    let err = session_file("").unwrap_err();
    assert!(err.to_string().contains("exactly one"), "{err}");
}

proptest! {
    #[test]
    fn a_session_file_never_panics(text in "\\PC{0,200}") {
        let _ = session_file(&text);
    }
}

#[test]
fn notify_hooks_name_the_states_the_protocol_names() {
    let names: Vec<&str> = baton_proto::SessionState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(names, STATE_NAMES);
}

#[test]
fn pricing_is_read_per_model_or_agent_with_cached_defaulting_to_input() {
    let m = parse(
        "[pricing.\"gpt-5-codex\"]\ninput = 1.25\ncached = 0.125\noutput = 10\n\n\
         [pricing.gemini]\ninput = 0.3\noutput = 2.5\n\n\
         [[session]]\nagent = \"codex\"\nprompt = \"p\"\n",
    )
    .unwrap();
    assert_eq!(m.pricing.len(), 2);
    let codex = m.pricing["gpt-5-codex"];
    assert!((codex.cost(1_000_000, 1_000_000, 1_000_000) - 11.375).abs() < 1e-9);
    let gemini = m.pricing["gemini"];
    assert!((gemini.cost(0, 1_000_000, 0) - 0.3).abs() < 1e-9);
    // Without a [pricing] table, no prices: baton ships none.
    let m = parse("[[session]]\nagent = \"codex\"\nprompt = \"p\"\n").unwrap();
    assert!(m.pricing.is_empty());
}

#[test]
fn input_wait_after_defaults_to_two_seconds_and_zero_turns_it_off() {
    let session = "[[session]]\nagent = \"command\"\ncommand = [\"true\"]\n";
    let m = parse(session).unwrap();
    assert_eq!(m.probe.input_wait_after, Some(Duration::from_secs(2)));
    let m = parse(&format!("[probe]\ninput_wait_after = \"500ms\"\n{session}")).unwrap();
    assert_eq!(m.probe.input_wait_after, Some(Duration::from_millis(500)));
    let m = parse(&format!("[probe]\ninput_wait_after = \"0s\"\n{session}")).unwrap();
    assert_eq!(m.probe.input_wait_after, None);
}
