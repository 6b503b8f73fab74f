//! Golden argv of every CLI, what their output says about a run's end
//! (in the words the real CLIs print), and codex's check before a run.

use std::path::Path;

use baton_config::{AgentConfig, AgentKind, AgentsConfig, Manifest, SessionSpec};

use crate::*;

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn parse(text: &str) -> Result<Manifest, baton_config::ConfigError> {
    Manifest::parse(text, None, Path::new("/work/proj"))
}

#[test]
fn every_kind_has_its_agent() {
    for kind in AgentKind::ALL {
        assert_eq!(agent(*kind).kind(), *kind);
    }
}

#[test]
fn a_command_runs_as_given_whatever_its_model_or_profile() {
    let m =
        parse("[[session]]\ncommand = [\"x\"]\nmodel = \"m\"\nprofile = \"p\"\n").expect("valid");
    assert_eq!(argv(&m.sessions[0], &m.agents), strings(&["x"]));
}

fn spec(agent: AgentKind, prompt: &str) -> SessionSpec {
    let mut s = SessionSpec::command("s".parse().unwrap(), Vec::new());
    s.agent = agent;
    s.command = None;
    s.prompt = Some(prompt.to_owned());
    s
}

const NASTY: &str = "fix $(touch x) and \"; touch y; \" `id` 'q' \\ \n next line";

#[test]
fn argv_codex() {
    let agents = AgentsConfig::default();
    let s = spec(AgentKind::Codex, NASTY);
    assert_eq!(
        argv(&s, &agents),
        strings(&[
            "codex",
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "--skip-git-repo-check",
            "--color",
            "never",
            "--",
            NASTY,
        ])
    );
    let mut s = s;
    s.profile = Some("work".into());
    s.model = Some("o3".into());
    s.mcp_servers = strings(&["github", "linear"]);
    let agents = AgentsConfig {
        codex: AgentConfig {
            bin: Some("/opt/codex/bin/codex".into()),
            stdin: None,
            ..AgentConfig::default()
        },
        ..AgentsConfig::default()
    };
    assert_eq!(
        argv(&s, &agents),
        strings(&[
            "/opt/codex/bin/codex",
            "--profile=work",
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "--skip-git-repo-check",
            "--color",
            "never",
            "--model=o3",
            "-c",
            "mcp_servers.github.enabled=true",
            "-c",
            "mcp_servers.linear.enabled=true",
            "--",
            NASTY,
        ])
    );
}

#[test]
fn argv_gemini() {
    let agents = AgentsConfig::default();
    let mut s = spec(AgentKind::Gemini, "$(touch x)");
    assert_eq!(
        argv(&s, &agents),
        strings(&[
            "gemini",
            "--yolo",
            "--skip-trust",
            "--output-format",
            "stream-json",
            "--prompt=$(touch x)",
        ])
    );
    s.model = Some("gemini-2.5-pro".into());
    s.profile = Some("ignored".into());
    assert_eq!(
        argv(&s, &agents),
        strings(&[
            "gemini",
            "--model=gemini-2.5-pro",
            "--yolo",
            "--skip-trust",
            "--output-format",
            "stream-json",
            "--prompt=$(touch x)",
        ])
    );
}

#[test]
fn argv_claude() {
    let agents = AgentsConfig {
        claude: AgentConfig {
            bin: Some("/usr/local/bin/claude".into()),
            stdin: None,
            ..AgentConfig::default()
        },
        ..AgentsConfig::default()
    };
    let mut s = spec(AgentKind::Claude, "\"; touch y; \"");
    assert_eq!(
        argv(&s, &agents),
        strings(&[
            "/usr/local/bin/claude",
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--",
            "\"; touch y; \""
        ])
    );
    s.model = Some("opus".into());
    assert_eq!(
        argv(&s, &AgentsConfig::default()),
        strings(&[
            "claude",
            "--model=opus",
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--",
            "\"; touch y; \""
        ])
    );
}

#[test]
fn user_data_that_looks_like_a_flag_stays_data() {
    // Each of these made the real CLIs print help or a version and exit 0.
    for agent in [AgentKind::Codex, AgentKind::Gemini, AgentKind::Claude] {
        for prompt in ["--help", "--version", "-h", "-"] {
            let mut s = spec(agent, prompt);
            s.model = Some("--help".into());
            s.profile = Some("-v".into());
            let argv = argv(&s, &AgentsConfig::default());
            let loose: Vec<&String> = argv
                .iter()
                .filter(|w| ["--help", "--version", "-h", "-v", "-"].contains(&w.as_str()))
                .collect();
            match agent {
                // A positional prompt only after `--`.
                AgentKind::Codex | AgentKind::Claude => {
                    assert_eq!(loose, [prompt], "{agent}: {argv:?}");
                    let dashes = argv.iter().position(|w| w == "--").unwrap();
                    assert_eq!(dashes, argv.len() - 2, "{agent}: {argv:?}");
                }
                AgentKind::Gemini => {
                    assert!(loose.is_empty(), "{argv:?}");
                    assert_eq!(argv.last().unwrap(), &format!("--prompt={prompt}"));
                }
                AgentKind::Command => unreachable!(),
            }
            assert!(
                argv.iter().any(|w| w == "--model=--help"),
                "{agent}: {argv:?}"
            );
        }
    }
}

#[test]
fn argv_command_is_given_argv() {
    let m = parse("[[session]]\ncommand = [\"sh\", \"-c\", \"echo $(touch x)\"]\nprompt = \"\\\"; touch y; \\\"\"\n")
        .expect("valid");
    assert_eq!(
        argv(&m.sessions[0], &m.agents),
        strings(&["sh", "-c", "echo $(touch x)"])
    );
    let m =
        parse("[[session]]\ncommand = \"echo '$(touch x)' \\\"; touch y; \\\"\"\n").expect("valid");
    assert_eq!(
        argv(&m.sessions[0], &m.agents),
        strings(&["echo", "$(touch x)", "; touch y; "])
    );
}

#[test]
fn argv_from_manifest_keeps_prompt_whole() {
    let text = "[[session]]\nagent = \"codex\"\nprompt = \"fix $(touch x) \\\"; touch y; \\\"\"\n";
    let m = parse(text).expect("valid");
    let argv = argv(&m.sessions[0], &m.agents);
    assert_eq!(
        argv.last().map(String::as_str),
        Some("fix $(touch x) \"; touch y; \"")
    );
}

/// Output captured from the real CLIs (claude 2.1.197, gemini 0.61.0),
/// offline, with an empty `HOME`.
const CLAUDE_NOT_LOGGED_IN: &str = "Not logged in \u{b7} Please run /login\n";
const GEMINI_NO_AUTH: &str = "YOLO mode is enabled. All tool calls will be automatically approved.\n\
    Please set an Auth method in your /tmp/h/.gemini/settings.json or specify one of the following \
    environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA\n";

#[test]
fn a_cli_that_says_it_cannot_authenticate_ends_its_run_for_good() {
    let claude = agent(AgentKind::Claude);
    let ended = claude
        .ended(Some(1), CLAUDE_NOT_LOGGED_IN.as_bytes())
        .unwrap();
    assert_eq!(ended.class, EndClass::AuthRequired);
    assert_eq!(ended.evidence, "Not logged in \u{b7} Please run /login");
    // Its own words only count when the run failed.
    assert_eq!(claude.ended(Some(0), CLAUDE_NOT_LOGGED_IN.as_bytes()), None);
    assert_eq!(claude.ended(Some(1), b"error: compile failed\n"), None);

    let gemini = agent(AgentKind::Gemini);
    let ended = gemini.ended(Some(41), GEMINI_NO_AUTH.as_bytes()).unwrap();
    assert_eq!(ended.class, EndClass::AuthRequired);
    assert!(
        ended.evidence.starts_with("Please set an Auth method"),
        "{ended:?}"
    );
    // The exit code alone says it, when the words scrolled away.
    let ended = gemini.ended(Some(41), b"").unwrap();
    assert!(ended.evidence.contains("exited 41"), "{ended:?}");
    let ended = gemini.ended(Some(55), b"").unwrap();
    assert_eq!(ended.class, EndClass::UntrustedFolder);
    assert_eq!(gemini.ended(Some(1), GEMINI_NO_AUTH.as_bytes()), None);
    assert_eq!(gemini.ended(None, GEMINI_NO_AUTH.as_bytes()), None);

    // A command's words are its own business.
    assert_eq!(
        agent(AgentKind::Command).ended(Some(1), CLAUDE_NOT_LOGGED_IN.as_bytes()),
        None
    );
}

#[test]
fn evidence_is_one_clean_line_of_bounded_length() {
    let long = format!("Not logged in {}\x1b[0m\n", "é".repeat(400));
    let ended = agent(AgentKind::Claude)
        .ended(Some(1), long.as_bytes())
        .unwrap();
    assert!(
        ended.evidence.chars().count() <= 301,
        "{}",
        ended.evidence.len()
    );
    assert!(!ended.evidence.contains('\x1b'));
    assert!(ended.evidence.ends_with('…'));
}

#[test]
fn codex_checks_its_own_configuration_before_each_run() {
    let home = tempfile::tempdir().unwrap();
    let mut s = spec(AgentKind::Codex, "x");
    let codex = agent(AgentKind::Codex);
    // Nothing named, nothing to check.
    assert!(codex.preflight(&s, &[]).is_none());
    s.profile = Some("work".into());
    let env = [("CODEX_HOME".to_owned(), home.path().display().to_string())];
    let check = codex.preflight(&s, &env).expect("a profile to check");
    assert!(check.problem().unwrap().contains("work.config.toml"));
    // Fixed between runs: the same check passes the next time.
    std::fs::write(home.path().join("work.config.toml"), "model = \"o3\"\n").unwrap();
    assert_eq!(check.problem(), None);
    // A remote session's codex reads the host's configuration, not ours.
    s.host = Some("gpu".into());
    assert!(codex.preflight(&s, &env).is_none());
    assert!(agent(AgentKind::Claude).preflight(&s, &env).is_none());
}

/// What a listener says of `chunks`, in order.
fn heard(kind: AgentKind, chunks: &[&[u8]]) -> Vec<Said> {
    listen(kind, chunks).0
}

/// What a listener says of `chunks` of stderr, in order.
fn heard_on_stderr(kind: AgentKind, chunks: &[&[u8]]) -> Vec<Said> {
    let mut listener = Listener::of(agent(kind)).expect("a listener");
    let mut said = Vec::new();
    for chunk in chunks {
        listener.feed_stderr(chunk, |s| said.push(s));
    }
    said
}

/// What a listener says of `chunks`, in order, and the answer it kept.
fn listen(kind: AgentKind, chunks: &[&[u8]]) -> (Vec<Said>, Option<String>) {
    let mut listener = Listener::of(agent(kind)).expect("a listener");
    let mut said = Vec::new();
    for chunk in chunks {
        listener.feed(chunk, |s| said.push(s));
    }
    (said, listener.answer().map(str::to_owned))
}

#[test]
fn a_listener_hears_a_cli_that_waits_for_the_network_once_whatever_the_chunks() {
    assert!(Listener::of(agent(AgentKind::Command)).is_none());
    // As codex 0.171 printed it offline on stderr, cut at every byte.
    let text = "2026-12-06T22:06:44Z ERROR codex_api: failed to connect\n\
                ERROR: Reconnecting... 5/5\n\
                warning: Falling back from WebSockets to HTTPS transport.\n\
                ERROR: Reconnecting... waiting for network\n\
                ERROR: Reconnecting... waiting for network\n";
    for cut in 0..text.len() {
        let (a, b) = text.as_bytes().split_at(cut);
        assert_eq!(
            heard_on_stderr(AgentKind::Codex, &[a, b]),
            [Said::Offline(
                "ERROR: Reconnecting... waiting for network".into()
            )],
            "cut at {cut}"
        );
    }
    // A line without its newline is not judged yet; an overlong one is
    // judged by its start.
    assert_eq!(
        heard_on_stderr(
            AgentKind::Claude,
            &[b"Unable to connect to Anthropic services"]
        ),
        []
    );
    assert_eq!(
        heard_on_stderr(
            AgentKind::Claude,
            &[b"Unable to connect to Anthropic services", b"\n"]
        )
        .len(),
        1
    );
    let long = format!(
        "{}\nReconnecting... waiting for network\n",
        "x".repeat(300_000)
    );
    assert_eq!(
        heard_on_stderr(AgentKind::Codex, &[long.as_bytes()]).len(),
        1
    );
    // Its structured output says so in an event it reads; a plain line
    // there is none of its (and not searched).
    assert_eq!(
        heard(AgentKind::Codex, &[text.as_bytes()]),
        [],
        "plain lines on stdout"
    );
}

/// A claude 2.1.197 stream-json run (the shape the real CLI printed; the
/// usage of a run that worked, as its documented `result` carries it).
const CLAUDE_STREAM: &str = concat!(
    r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"c7","model":"claude-opus-4-8"}"#,
    "\n",
    r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Done."}],"usage":{"input_tokens":3,"output_tokens":12}},"session_id":"c7"}"#,
    "\n",
    r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":2208,"num_turns":1,"result":"Done.","session_id":"c7","total_cost_usd":0.0425,"usage":{"input_tokens":1200,"cache_creation_input_tokens":300,"cache_read_input_tokens":5000,"output_tokens":340}}"#,
    "\n",
);

#[test]
fn claude_says_its_turn_what_it_used_and_its_answer_whatever_the_chunks() {
    let used = Usage {
        input_tokens: 1500,
        output_tokens: 340,
        cached_tokens: 5000,
        cost_usd: Some(0.0425),
        cost_estimated: false,
    };
    let ended = Said::TurnEnded {
        usage: Some(used),
        error: None,
    };
    for cut in 0..CLAUDE_STREAM.len() {
        let (a, b) = CLAUDE_STREAM.as_bytes().split_at(cut);
        let (said, answer) = listen(AgentKind::Claude, &[a, b]);
        // The turn's start and end once each; what it shows last, its
        // answer; the answer kept.
        let once = |s: &Said| said.iter().filter(|x| *x == s).count() == 1;
        assert!(once(&Said::TurnStarted), "cut at {cut}: {said:?}");
        assert!(once(&ended), "cut at {cut}: {said:?}");
        assert_eq!(
            said.last(),
            Some(&Said::Status("Done.".into())),
            "cut at {cut}"
        );
        assert_eq!(answer.as_deref(), Some("Done."), "cut at {cut}");
    }
    // A tool in use is recorded and shown by name, never its input.
    let tool = br#"{"type":"assistant","message":{"content":[{"type":"text","text":"Let me look."},{"type":"tool_use","name":"Bash","input":{"command":"cat ~/.ssh/id_rsa"}}]}}
"#;
    assert_eq!(
        heard(AgentKind::Claude, &[tool]),
        [Said::Tool("Bash".into()), Said::Status("→ Bash".into())]
    );
    // The API retries it reports, in a line of their own.
    let retry = br#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":1200,"error_status":529,"error":"overloaded","session_id":"c7"}
"#;
    assert_eq!(
        heard(AgentKind::Claude, &[retry]),
        [Said::Error {
            message: "API overloaded (529), retry 2 of 10 in 1.2 s".into(),
            retrying: true
        }]
    );
    // Offline: retries without an answer, the third says so (once).
    let offline: String = (1..=5)
        .map(|attempt| {
            format!(
                "{{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":{attempt},\"max_retries\":10,\"retry_delay_ms\":500,\"error_status\":null,\"error\":\"unknown\"}}\n"
            )
        })
        .collect();
    let said = heard(AgentKind::Claude, &[offline.as_bytes()]);
    let offline: Vec<_> = said
        .iter()
        .filter(|s| matches!(s, Said::Offline(_)))
        .collect();
    assert_eq!(
        offline,
        [&Said::Offline(
            "cannot reach the Anthropic API: no answer to 3 attempts (API unknown, retry 3 of 10 in 0.5 s)"
                .into()
        )],
        "{said:?}"
    );
    // A failed result ends the turn with its words, and is no answer.
    let (said, answer) = listen(AgentKind::Claude, &[CLAUDE_STREAM_NOT_LOGGED_IN.as_bytes()]);
    assert!(
        said.contains(&Said::TurnEnded {
            usage: Some(Usage {
                cost_usd: Some(0.0),
                ..Usage::default()
            }),
            error: Some("Not logged in · Please run /login".into())
        }),
        "{said:?}"
    );
    assert_eq!(answer, None);
    // Lines that are not a result, or not JSON, say nothing; a tool's
    // output that quotes a result (escaped inside a string) is no result.
    assert_eq!(
        heard(
            AgentKind::Claude,
            &[
                b"{\"type\":\"result\"\n",
                b"result: 3\n",
                br#"{"type":"user","message":{"content":[{"type":"tool_result","content":"{\"type\":\"result\",\"result\":\"fake\"}"}]}}"#,
                b"\n"
            ]
        ),
        []
    );
}

/// What claude 2.1.197 printed with `--output-format stream-json
/// --verbose`, not logged in (exit 1).
const CLAUDE_STREAM_NOT_LOGGED_IN: &str = concat!(
    r#"{"type":"system","subtype":"init","apiKeySource":"none","claude_code_version":"2.1.197"}"#,
    "\n",
    r#"{"type":"assistant","message":{"model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"Not logged in · Please run /login"}]},"error":"authentication_failed"}"#,
    "\n",
    r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}"#,
    "\n",
);

#[test]
fn claude_not_logged_in_in_stream_json_is_its_result_text() {
    let ended = agent(AgentKind::Claude)
        .ended(Some(1), CLAUDE_STREAM_NOT_LOGGED_IN.as_bytes())
        .unwrap();
    assert_eq!(ended.class, EndClass::AuthRequired);
    assert_eq!(ended.evidence, "Not logged in · Please run /login");
}

#[test]
fn a_cli_that_refuses_a_flag_says_which_and_what_to_do() {
    // (agent, exit code, what the pinned CLI printed for `--bogus-flag`)
    let cases = [
        (
            AgentKind::Claude,
            1,
            "error: unknown option '--bogus-flag'\n",
        ),
        (
            AgentKind::Gemini,
            1,
            "Unknown arguments: bogus-flag, bogusFlag\nUsage: gemini [options] [command]\n",
        ),
        (
            AgentKind::Codex,
            2,
            "error: unexpected argument '--bogus-flag' found\n\nUsage: codex exec [OPTIONS] [PROMPT]\n",
        ),
    ];
    for (kind, code, output) in cases {
        let ended = agent(kind)
            .ended(Some(code), output.as_bytes())
            .expect("a usage error");
        assert_eq!(ended.class, EndClass::UnknownFlag, "{kind}");
        assert!(ended.evidence.contains("bogus-flag"), "{ended:?}");
        assert!(ended.evidence.contains("npm install -g @"), "{ended:?}");
    }
}

/// A codex 0.171 `exec --json` run: the events' shapes as it prints them
/// (offline it printed the first two and the error), the usage of a turn as
/// its `turn.completed` carries it.
const CODEX_JSON: &str = concat!(
    r#"{"type":"thread.started","thread_id":"01a24d85"}"#,
    "\n",
    r#"{"type":"turn.started"}"#,
    "\n",
    r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"cat ~/.ssh/id_rsa","status":"in_progress"}}"#,
    "\n",
    r#"{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Fixed it.\n{\"files\": 2}"}}"#,
    "\n",
    r#"{"type":"turn.completed","usage":{"input_tokens":26549,"cached_input_tokens":22272,"output_tokens":1590}}"#,
    "\n",
);

#[test]
fn codex_says_its_turns_tools_usage_errors_and_answer() {
    let used = Usage {
        input_tokens: 4277,
        output_tokens: 1590,
        cached_tokens: 22272,
        cost_usd: None,
        cost_estimated: false,
    };
    // In one chunk: the turn, its tool, its end as their lines come, then
    // what it shows (the newest line that says something: its message).
    let (said, answer) = listen(AgentKind::Codex, &[CODEX_JSON.as_bytes()]);
    assert_eq!(
        said,
        [
            Said::TurnStarted,
            Said::Tool("command".into()),
            Said::TurnEnded {
                usage: Some(used),
                error: None
            },
            Said::Status("{\"files\": 2}".into()),
        ]
    );
    assert_eq!(answer.as_deref(), Some("Fixed it.\n{\"files\": 2}"));
    // Line by line, the command shows while it runs (by kind only).
    let lines: Vec<&[u8]> = CODEX_JSON
        .as_bytes()
        .split_inclusive(|b| *b == b'\n')
        .collect();
    let said = heard(AgentKind::Codex, &lines);
    assert!(said.contains(&Said::Status("→ command".into())), "{said:?}");
    // An MCP tool by its server and name; a failed turn by its error.
    let more = concat!(
        r#"{"type":"item.started","item":{"id":"i3","type":"mcp_tool_call","server":"github","tool":"create_pr","arguments":{"token":"s3cret"}}}"#,
        "\n",
        r#"{"type":"turn.failed","error":{"message":"stream error: 500"}}"#,
        "\n",
    );
    let said = heard(AgentKind::Codex, &[more.as_bytes()]);
    assert_eq!(
        &said[..2],
        [
            Said::Tool("github.create_pr".into()),
            Said::TurnEnded {
                usage: None,
                error: Some("stream error: 500".into())
            }
        ]
    );
    // A reconnect it retries is an error it reports; offline, the error
    // event's message is the evidence, not its JSON.
    let retry = br#"{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion)"}
"#;
    assert_eq!(
        heard(AgentKind::Codex, &[retry]),
        [Said::Error {
            message: "Reconnecting... 2/5 (stream disconnected before completion)".into(),
            retrying: true
        }]
    );
    let offline = br#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}
"#;
    assert_eq!(
        heard(AgentKind::Codex, &[offline])[0],
        Said::Offline(
            "Reconnecting... waiting for network (Connection failed: error sending request)".into()
        )
    );
}

/// A gemini 0.61 `--output-format stream-json` run: the events' shapes as
/// its stream formatter writes them (offline it printed the first two).
const GEMINI_STREAM: &str = concat!(
    r#"{"type":"init","timestamp":"2026-12-06T23:39:18.034Z","session_id":"e5b9","model":"auto"}"#,
    "\n",
    r#"{"type":"message","timestamp":"2026-12-06T23:39:18.035Z","role":"user","content":"fix the tests"}"#,
    "\n",
    r#"{"type":"message","timestamp":"t","role":"assistant","content":"Let me look.","delta":true}"#,
    "\n",
    r#"{"type":"tool_use","timestamp":"t","tool_name":"run_shell_command","tool_id":"t1","parameters":{"command":"cat ~/.ssh/id_rsa"}}"#,
    "\n",
    r#"{"type":"tool_result","timestamp":"t","tool_id":"t1","status":"success","output":"ok"}"#,
    "\n",
    r#"{"type":"error","timestamp":"t","severity":"warning","message":"Quota nearly used"}"#,
    "\n",
    r#"{"type":"message","timestamp":"t","role":"assistant","content":"Fixed it.\n{\"files\"","delta":true}"#,
    "\n",
    r#"{"type":"message","timestamp":"t","role":"assistant","content":": 2}","delta":true}"#,
    "\n",
    r#"{"type":"result","timestamp":"t","status":"success","stats":{"total_tokens":900,"input_tokens":700,"output_tokens":200,"cached":300,"input":400,"duration_ms":2000,"tool_calls":1,"models":{}}}"#,
    "\n",
);

#[test]
fn gemini_says_its_turn_tools_warnings_usage_and_its_answer_in_pieces() {
    let used = Usage {
        input_tokens: 400,
        output_tokens: 200,
        cached_tokens: 300,
        cost_usd: None,
        cost_estimated: false,
    };
    for cut in 0..GEMINI_STREAM.len() {
        let (a, b) = GEMINI_STREAM.as_bytes().split_at(cut);
        let (said, answer) = listen(AgentKind::Gemini, &[a, b]);
        let recorded: Vec<&Said> = said
            .iter()
            .filter(|s| !matches!(s, Said::Status(_)))
            .collect();
        assert_eq!(
            recorded,
            [
                &Said::TurnStarted,
                &Said::Tool("run_shell_command".into()),
                &Said::Error {
                    message: "Quota nearly used".into(),
                    retrying: false
                },
                &Said::TurnEnded {
                    usage: Some(used),
                    error: None
                },
            ],
            "cut at {cut}"
        );
        // What it said after its last tool, its pieces joined.
        assert_eq!(
            answer.as_deref(),
            Some("Fixed it.\n{\"files\": 2}"),
            "cut at {cut}"
        );
    }
    // A failed result ends the turn with its error.
    let failed = br#"{"type":"result","timestamp":"t","status":"error","error":{"type":"FatalAuthenticationError","message":"API key not valid"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0,"models":{}}}
"#;
    assert_eq!(
        heard(AgentKind::Gemini, &[failed]),
        [Said::TurnEnded {
            usage: Some(Usage::default()),
            error: Some("API key not valid".into())
        }]
    );
}

#[test]
fn a_flood_of_tool_calls_is_recorded_up_to_a_bound() {
    let line =
        br#"{"type":"tool_use","timestamp":"t","tool_name":"x","tool_id":"1","parameters":{}}
"#;
    let chunk = line.repeat(1000);
    let mut listener = Listener::of(agent(AgentKind::Gemini)).unwrap();
    let mut tools = 0;
    let mut errors = Vec::new();
    for _ in 0..(RECORDS_MAX as usize / 1000 + 2) {
        listener.feed(&chunk, |s| match s {
            Said::Tool(_) => tools += 1,
            Said::Error { message, .. } => errors.push(message),
            _ => {}
        });
    }
    assert_eq!(tools, RECORDS_MAX - 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("not recorded"), "{errors:?}");
}

#[test]
fn a_run_read_again_says_only_what_was_not_passed_on_before() {
    let all = heard(AgentKind::Codex, &[CODEX_JSON.as_bytes()]);
    let reports = |said: &[Said]| -> Vec<Said> {
        said.iter()
            .filter(|s| !matches!(s, Said::Status(_)))
            .cloned()
            .collect()
    };
    let all = reports(&all);
    assert_eq!(all.len(), 3, "{all:?}");
    for skip in 0..=3 {
        // However the bytes are cut into chunks.
        for cut in [1, 40, 200, CODEX_JSON.len() - 1] {
            let (a, b) = CODEX_JSON.as_bytes().split_at(cut);
            let mut listener = Listener::of(agent(AgentKind::Codex))
                .unwrap()
                .skipping(skip);
            let mut said = Vec::new();
            listener.feed(a, |s| said.push(s));
            listener.feed(b, |s| said.push(s));
            assert_eq!(
                reports(&said),
                all[skip as usize..],
                "skip {skip}, cut {cut}"
            );
            // The answer is heard anew.
            assert_eq!(listener.answer(), Some("Fixed it.\n{\"files\": 2}"));
        }
    }
}

#[test]
fn a_permission_is_summed_up_without_what_may_hold_a_secret() {
    use crate::hooks::permission_summary;
    use serde_json::json;
    let bash = json!({"command": "curl -H 'Authorization: Bearer sk-123' https://x", "description": "Fetch the page"});
    assert_eq!(permission_summary("Bash", &bash), "Bash: Fetch the page");
    let bare = json!({"command": "curl -H 'Authorization: Bearer sk-123' https://x"});
    assert_eq!(permission_summary("Bash", &bare), "Bash: run curl …");
    let fetch = json!({"url": "https://api.example.com/v1/items?token=sk-123#frag"});
    assert_eq!(
        permission_summary("WebFetch", &fetch),
        "WebFetch: https://api.example.com/v1/items"
    );
    let edit = json!({"file_path": "/repo/src/lib.rs", "old_string": "sk-123", "new_string": "x"});
    assert_eq!(permission_summary("Edit", &edit), "Edit: /repo/src/lib.rs");
    assert_eq!(
        permission_summary("mcp__db__query", &json!({"sql": "select sk"})),
        "mcp__db__query"
    );
    assert_eq!(permission_summary("Bad\u{1b}[2J", &json!({})), "Bad[2J");
}

#[test]
fn claudes_hooks_say_what_it_waits_for() {
    use crate::hooks::claude_hooked;
    use crate::{HookFailure, Hooked};
    use baton_proto::WaitKind;
    use serde_json::json;
    let hook = |v: serde_json::Value| claude_hooked(&v);
    assert_eq!(
        hook(
            json!({"hook_event_name": "PreToolUse", "tool_name": "AskUserQuestion",
                    "tool_input": {"questions": [{"question": "Which DB?"}]}})
        ),
        Some(Hooked::Waits {
            kind: WaitKind::Question,
            evidence: "Which DB?".into()
        })
    );
    assert_eq!(
        hook(
            json!({"hook_event_name": "PreToolUse", "tool_name": "ExitPlanMode",
                    "tool_input": {"plan": "\n1. Add a test\n2. Fix it"}})
        ),
        Some(Hooked::Waits {
            kind: WaitKind::Question,
            evidence: "approve the plan? 1. Add a test".into()
        })
    );
    assert_eq!(
        hook(json!({"hook_event_name": "PreToolUse", "tool_name": "Bash"})),
        Some(Hooked::Works {
            reason: "tool_started"
        })
    );
    assert_eq!(
        hook(
            json!({"hook_event_name": "Notification", "notification_type": "idle_prompt",
                    "message": "Claude is waiting for your input"})
        ),
        Some(Hooked::Waits {
            kind: WaitKind::Idle,
            evidence: "Claude is waiting for your input".into()
        })
    );
    assert_eq!(
        hook(json!({"hook_event_name": "Notification", "notification_type": "auth_success"})),
        Some(Hooked::Alive)
    );
    assert_eq!(
        hook(json!({"hook_event_name": "StopFailure", "error": "billing_error"})),
        Some(Hooked::Failed {
            failure: HookFailure::Other,
            words: "billing_error".into()
        })
    );
    assert_eq!(hook(json!({"hook_event_name": "PreCompact"})), None);
    assert_eq!(hook(json!({"no": "event"})), None);
}

#[test]
fn geminis_hook_settings_keep_what_was_there_and_its_hooks_are_read() {
    use crate::Hooked;
    use crate::hooks::{GEMINI_EVENTS, gemini_hooked, gemini_settings};
    use baton_proto::WaitKind;
    use serde_json::{Value, json};
    let theirs = r#"{"general": {"vimMode": true}, "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "notify-me"}]}]}}"#;
    let ours: Value =
        serde_json::from_str(&gemini_settings(Some(theirs), "'/b/baton-shim' hook", 5000).unwrap())
            .unwrap();
    assert_eq!(ours["general"]["vimMode"], true);
    let after = ours["hooks"]["AfterAgent"].as_array().unwrap();
    assert_eq!(after.len(), 2, "theirs, then ours");
    assert_eq!(after[0]["hooks"][0]["command"], "notify-me");
    for event in GEMINI_EVENTS {
        let list = ours["hooks"][event].as_array().unwrap();
        assert_eq!(
            list.last().unwrap()["hooks"][0]["command"],
            "'/b/baton-shim' hook"
        );
    }
    assert!(
        gemini_settings(Some("not json"), "x", 1).is_none(),
        "never dropped"
    );
    assert!(gemini_settings(Some("[1]"), "x", 1).is_none());
    assert!(gemini_settings(None, "x", 1).is_some());
    let permission = json!({"hook_event_name": "Notification", "notification_type": "ToolPermission",
        "message": "Allow `rm -rf ~/secret`?", "details": {"toolName": "run_shell_command"}});
    assert_eq!(
        gemini_hooked(&permission),
        Some(Hooked::Waits {
            kind: WaitKind::Permission,
            evidence: "run_shell_command".into()
        })
    );
    assert_eq!(
        gemini_hooked(
            &json!({"hook_event_name": "AfterAgent", "prompt_response": "Done.\nAll 12 pass."})
        ),
        Some(Hooked::Waits {
            kind: WaitKind::Idle,
            evidence: "All 12 pass.".into()
        })
    );
    assert_eq!(
        gemini_hooked(&json!({"hook_event_name": "BeforeAgent", "prompt": "x"})),
        Some(Hooked::Works {
            reason: "prompt_submitted"
        })
    );
}

#[test]
fn geminis_hook_file_on_a_host_holds_batons_hooks_alone_and_names_the_file_it_stands_for() {
    let gemini = agent(AgentKind::Gemini);
    let file = gemini.host_hook_file("hook-line", &[]).expect("gemini's");
    assert_eq!(file.file.env, "GEMINI_CLI_SYSTEM_DEFAULTS_PATH");
    assert_eq!(file.stands_for, "/etc/gemini-cli/system-defaults.json");
    let settings: serde_json::Value = serde_json::from_str(&file.file.contents).unwrap();
    let hooks = settings["hooks"].as_object().unwrap();
    assert_eq!(hooks.len(), crate::hooks::GEMINI_EVENTS.len(), "ours alone");
    assert_eq!(
        settings["hooks"]["AfterAgent"][0]["hooks"][0]["command"],
        "hook-line"
    );
    // The session's own choice of defaults is the file the host keeps.
    let env = strings(&["GEMINI_CLI_SYSTEM_DEFAULTS_PATH", "/srv/gemini.json"]);
    let env = [(env[0].clone(), env[1].clone())];
    let file = gemini.host_hook_file("hook-line", &env).unwrap();
    assert_eq!(file.stands_for, "/srv/gemini.json");
    // The CLIs that take hooks in their argv need no file.
    for kind in [AgentKind::Claude, AgentKind::Codex, AgentKind::Command] {
        assert!(
            agent(kind).host_hook_file("hook-line", &[]).is_none(),
            "{kind}"
        );
    }
}
