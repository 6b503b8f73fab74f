//! `baton mcp` driven by a real MCP client (rmcp's) over stdio, the way a
//! lead agent drives it: the real binary as the server, a daemon it starts
//! itself, stand-in agents as the workers.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

mod common;
use common::{baton, git, git_repo, pid_is_gone, sha, stand_in};

const CONFIG: &str =
    "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\n[probe]\nstall_after = \"300ms\"\n";

/// A temp dir with a config and a socket path where no daemon runs yet.
/// Dropping it shuts down whatever daemon `baton mcp` started there.
struct Place {
    dir: tempfile::TempDir,
    socket: PathBuf,
    config: PathBuf,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let config = dir.path().join("baton.toml");
        std::fs::write(&config, CONFIG).unwrap();
        Place {
            dir,
            socket,
            config,
        }
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join(".baton/logs")
    }

    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.logs().join("events.jsonl")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `baton mcp` on this place, as an MCP client sees it.
    async fn client(&self, extra: &[&str]) -> RunningService<RoleClient, ()> {
        let cmd = tokio::process::Command::new(baton()).configure(|c| {
            c.arg("mcp")
                .arg("--socket")
                .arg(&self.socket)
                .arg("--config")
                .arg(&self.config)
                .args(extra)
                .current_dir(self.dir.path());
        });
        let transport = TokioChildProcess::new(cmd).expect("baton mcp starts");
        ().serve(transport)
            .await
            .expect("the MCP session initializes")
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if self.socket.exists() {
            let _ = Command::new(baton())
                .args(["shutdown", "--force", "--socket"])
                .arg(&self.socket)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object");
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The structured result of a call that must succeed.
async fn ok(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Value {
    let result = call(client, tool, args.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{tool} {args} failed: {}",
        text(&result)
    );
    assert!(!text(&result).is_empty(), "{tool}: no text rendering");
    result
        .structured_content
        .unwrap_or_else(|| panic!("{tool}: no structured content"))
}

/// The text of a call that must fail as a tool error.
async fn tool_error(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> String {
    let result = call(client, tool, args.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} {args} should fail, got {result:?}"
    );
    text(&result)
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_spawns_waits_answers_pages_and_collects_a_worker() {
    let place = Place::new();
    assert!(!place.socket.exists(), "no daemon beforehand");
    let client = place.client(&[]).await;

    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("baton")
    );
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accounts", "events", "kill", "list", "logs", "send", "spawn", "status", "wait"
        ]
    );
    for tool in &tools {
        assert!(
            tool.output_schema.is_some(),
            "{} has no output schema",
            tool.name
        );
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 40),
            "{} says too little",
            tool.name
        );
    }

    // The first call starts a daemon, detached from baton mcp.
    assert_eq!(ok(&client, "list", json!({})).await["sessions"], json!([]));
    assert!(place.socket.exists(), "baton mcp started a daemon");

    let spawned = ok(
        &client,
        "spawn",
        json!({
            "id": "w1",
            "command": [stand_in(), "print:planning", "ask:Proceed with the refactor? [y/N] ",
                        "lines:3000", "payload:{\"ok\":true,\"files\":3}"],
            "capabilities": ["refactor"],
        }),
    )
    .await;
    assert_eq!(spawned["id"], "w1");

    let waited = ok(&client, "wait", json!({"ids": ["w1"], "timeout_s": 30})).await;
    assert_eq!(waited["matched"], true, "{waited}");
    assert_eq!(waited["state"], "input_wait", "{waited}");
    assert!(
        waited["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("Proceed with the refactor?")),
        "{waited}"
    );
    let status = ok(&client, "status", json!({"id": "w1"})).await;
    assert_eq!(status["state"], "input_wait");
    assert!(
        status["next"].as_str().unwrap().contains("send"),
        "{status}"
    );
    let listed = ok(&client, "list", json!({"state": ["input_wait"]})).await;
    assert_eq!(listed["sessions"][0]["id"], "w1", "{listed}");
    assert_eq!(listed["counts"], json!({"input_wait": 1}));

    let receipt = ok(&client, "send", json!({"id": "w1", "text": "yes, go"})).await;
    assert_eq!(receipt["resumed"], true, "{receipt}");
    let input_seq = receipt["seq"].as_u64().expect("a receipt seq");

    let done = ok(
        &client,
        "wait",
        json!({"ids": ["w1"], "until": ["completed", "dead"], "timeout_s": 30, "since_seq": input_seq}),
    )
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["payload"], json!({"ok": true, "files": 3}), "{done}");

    // Page through the whole output by offsets: every byte, once, in order.
    let file = std::fs::read(place.logs().join("w1.out.log")).unwrap();
    assert!(file.len() > 20_000, "{} bytes", file.len());
    let mut paged = Vec::new();
    let mut offset = 0u64;
    let mut pages = 0;
    loop {
        let page = ok(
            &client,
            "logs",
            json!({"id": "w1", "offset": offset, "max_bytes": 4096}),
        )
        .await;
        assert_eq!(page["offset"], offset);
        paged.extend_from_slice(page["text"].as_str().expect("utf-8 text").as_bytes());
        offset = page["next_offset"].as_u64().unwrap();
        pages += 1;
        if page["more"] == false {
            break;
        }
        assert!(pages < 1000, "paging does not end");
    }
    assert!(pages > 4, "{pages} pages");
    assert_eq!(sha(&paged), sha(&file));
    let tail = ok(&client, "logs", json!({"id": "w1", "tail_bytes": 100})).await;
    assert!(
        tail["text"]
            .as_str()
            .unwrap()
            .contains("BATON_COMPLETION_END")
    );
    assert_eq!(tail["next_offset"], file.len());

    // The log knows who asked, and never what was typed.
    let records = place.records();
    let input = records.iter().find(|r| r["seq"] == input_seq).unwrap();
    assert_eq!(input["event"], "input");
    assert_eq!(input["source"], "mcp");
    let asked: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["event"] == "request")
        .map(|r| (r["verb"].as_str().unwrap(), r["via"].as_str().unwrap()))
        .collect();
    assert_eq!(asked, [("spawn", "mcp"), ("send", "mcp")]);
    let log_text = std::fs::read_to_string(place.logs().join("events.jsonl")).unwrap();
    assert!(!log_text.contains("yes, go"));

    let events = ok(
        &client,
        "events",
        json!({"session": "w1", "kinds": ["state"], "limit": 2}),
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    assert_eq!(events["more"], true);
    let rest = ok(
        &client,
        "events",
        json!({"session": "w1", "kinds": ["state"], "since_seq": events["next_seq"]}),
    )
    .await;
    let last = rest["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "completed", "{rest}");

    // The daemon baton mcp started outlives it: its workers are not orphaned.
    let daemon = place
        .records()
        .iter()
        .rev()
        .find(|r| r["event"] == "conductor_start")
        .and_then(|r| r["pid"].as_u64())
        .expect("the daemon's pid");
    client.cancel().await.unwrap();
    // A second baton mcp finds the same daemon, its session and all: none
    // was started again (a new one would not know the ended session).
    let again = place.client(&[]).await;
    let listed = ok(&again, "list", json!({})).await;
    assert_eq!(listed["sessions"][0]["state"], "completed");
    again.cancel().await.unwrap();
    assert!(!pid_is_gone(daemon), "the daemon went with baton mcp");
    let starts = place
        .records()
        .iter()
        .filter(|r| r["event"] == "conductor_start")
        .count();
    assert_eq!(starts, 1, "baton mcp started a second daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_are_tool_errors_that_name_what_is_wrong_and_change_nothing() {
    let place = Place::new();
    let client = place.client(&[]).await;

    let err = tool_error(&client, "status", json!({"id": "nope"})).await;
    assert!(err.contains("`nope`") && err.contains("list"), "{err}");
    let err = tool_error(&client, "logs", json!({"id": "nope"})).await;
    assert!(err.contains("`nope`"), "{err}");
    let err = tool_error(&client, "wait", json!({"ids": ["nope"], "timeout_s": 1})).await;
    assert!(err.contains("`nope`"), "{err}");
    let err = tool_error(&client, "spawn", json!({"agent": "codex"})).await;
    assert!(err.contains("prompt"), "{err}");
    let err = tool_error(&client, "spawn", json!({"agent": "robot", "prompt": "x"})).await;
    assert!(err.contains("`agent`") && err.contains("codex"), "{err}");
    let err = tool_error(
        &client,
        "spawn",
        json!({"command": ["true"], "stall_after": "soon"}),
    )
    .await;
    assert!(err.contains("`stall_after`"), "{err}");
    let err = tool_error(
        &client,
        "spawn",
        json!({"command": ["true"], "colour": "red"}),
    )
    .await;
    assert!(err.contains("colour"), "{err}");
    let err = tool_error(&client, "events", json!({"kinds": ["stat"]})).await;
    assert!(err.contains("`stat`") && err.contains("state"), "{err}");
    let err = tool_error(&client, "accounts", json!({})).await;
    assert!(err.contains("accounts"), "{err}");
    assert_eq!(ok(&client, "list", json!({})).await["sessions"], json!([]));

    // A hostile prompt is only text: no shell ever sees it.
    let marker = place.dir.path().join("pwned");
    let hostile = format!(
        "$(touch {m}) `touch {m}`; touch {m} && echo {{}} | sh -c 'touch {m}'",
        m = marker.display()
    );
    ok(
        &client,
        "spawn",
        json!({"id": "hostile", "command": [stand_in(), "env:BATON_PROMPT"], "prompt": hostile}),
    )
    .await;
    let done = ok(
        &client,
        "wait",
        json!({"ids": ["hostile"], "timeout_s": 30}),
    )
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    let out = std::fs::read_to_string(place.logs().join("hostile.out.log")).unwrap();
    assert_eq!(out, format!("BATON_PROMPT={hostile}\n"));
    assert!(!marker.exists(), "the prompt ran a command");

    // send to a session that is not asking anything sends nothing.
    ok(
        &client,
        "spawn",
        json!({"id": "busy", "command": [stand_in(), "lines:100000:5ms"]}),
    )
    .await;
    let healthy = ok(
        &client,
        "wait",
        json!({"ids": ["busy"], "until": ["healthy"], "timeout_s": 30}),
    )
    .await;
    assert_eq!(healthy["state"], "healthy");
    let err = tool_error(&client, "send", json!({"id": "busy", "text": "y"})).await;
    assert!(
        err.contains("not input_wait") && err.contains("nothing was sent"),
        "{err}"
    );
    let err = tool_error(
        &client,
        "send",
        json!({"id": "busy", "text": "a\nb", "force": true}),
    )
    .await;
    assert!(err.contains("one line"), "{err}");
    assert!(!place.records().iter().any(|r| r["event"] == "input"));

    // A wait that nothing satisfies times out and says where to resume.
    let timed = ok(
        &client,
        "wait",
        json!({"ids": ["busy"], "until": ["completed"], "timeout_s": 0.5}),
    )
    .await;
    assert_eq!(timed["timed_out"], true, "{timed}");
    assert_eq!(timed["matched"], false);
    assert!(timed["seq"].as_u64().unwrap() > 0);

    // kill returns once the processes are gone.
    let pid = ok(&client, "status", json!({"id": "busy"})).await["pid"]
        .as_u64()
        .expect("a pid");
    let killed = ok(&client, "kill", json!({"id": "busy"})).await;
    assert_eq!(killed["state"], "dead", "{killed}");
    assert_eq!(killed["reason"], "user_kill");
    assert!(pid_is_gone(pid), "pid {pid} outlived kill");
    let kills: Vec<Value> = place
        .records()
        .into_iter()
        .filter(|r| r["event"] == "request" && r["verb"] == "kill")
        .map(|r| r["via"].clone())
        .collect();
    assert_eq!(kills, [json!("mcp")]);

    // Every watched session ended, none as asked: wait says so at once.
    let over = ok(
        &client,
        "wait",
        json!({"ids": ["busy"], "until": ["input_wait"], "timeout_s": 30}),
    )
    .await;
    assert_eq!(over["matched"], false);
    assert_eq!(over["timed_out"], false);
    assert!(over["note"].as_str().unwrap().contains("ended"), "{over}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_allow_choose_the_tools() {
    let place = Place::new();
    let client = place.client(&["--read-only"]).await;
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["accounts", "events", "list", "logs", "status", "wait"]
    );
    let params = CallToolRequestParams::new("spawn")
        .with_arguments(json!({"command": ["true"]}).as_object().unwrap().clone());
    let refused = client.call_tool(params).await;
    assert!(
        refused.is_err() || refused.as_ref().is_ok_and(|r| r.is_error == Some(true)),
        "{refused:?}"
    );
    client.cancel().await.unwrap();
    // Nothing was started: not even a daemon is needed to refuse.
    assert!(
        !place.logs().join("events.jsonl").exists()
            || place.records().iter().all(|r| r["event"] != "spawn")
    );

    let client = place.client(&["--allow", "list,wait"]).await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    client.cancel().await.unwrap();

    let out = Command::new(baton())
        .args(["mcp", "--allow", "list,rm"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tool `rm`"));
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_json_rpc_gets_an_error_and_the_server_keeps_serving() {
    use std::io::{BufRead, BufReader, Write};
    let place = Place::new();
    let mut child = Command::new(baton())
        .arg("mcp")
        .arg("--socket")
        .arg(&place.socket)
        .current_dir(place.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut next = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    };
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
    );
    assert_eq!(next()["result"]["serverInfo"]["name"], "baton");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send("{this is not json");
    let parse = next();
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    assert_eq!(parse["id"], Value::Null);
    send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    let listed = next();
    assert_eq!(listed["id"], 2, "{listed}");
    assert_eq!(listed["result"]["tools"].as_array().unwrap().len(), 9);
    send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"status","arguments":{"id":7}}}"#,
    );
    let bad = next();
    assert_eq!(bad["id"], 3);
    assert_eq!(bad["result"]["isError"], true, "{bad}");
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_cannot_start_is_a_tool_error_saying_why() {
    // A daemon that refuses its config: the tool error quotes it.
    let place = Place::new();
    std::fs::write(&place.config, "[conductor]\nbogus_key = 1\n").unwrap();
    let client = place.client(&[]).await;
    let err = tool_error(&client, "list", json!({})).await;
    assert!(err.contains("could not start one"), "{err}");
    assert!(err.contains("exited") && err.contains("bogus_key"), "{err}");
    assert!(err.contains(".daemon.log"), "{err}");
    client.cancel().await.unwrap();

    // A socket directory others can reach: no daemon is started there.
    let place = Place::new();
    let run = place.socket.parent().unwrap();
    std::fs::create_dir_all(run).unwrap();
    std::fs::set_permissions(run, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let client = place.client(&[]).await;
    let err = tool_error(&client, "spawn", json!({"command": ["true"]})).await;
    assert!(
        err.contains("mode 0777") && err.contains("chmod 700"),
        "{err}"
    );
    assert!(!place.socket.exists());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_gives_each_worker_its_own_worktree_and_learns_its_branch() {
    let place = Place::new();
    let repo = git_repo(&place.dir.path().join("repo"));
    let client = place.client(&[]).await;
    let work =
        "echo \"$BATON_SESSION_ID\" > out.txt; git add out.txt; git commit -qm work; echo ok";
    for (id, worktree) in [
        ("fix-1", json!(true)),
        ("fix-2", json!({"branch": "agents/fix-2", "base": "main"})),
    ] {
        ok(
            &client,
            "spawn",
            json!({"id": id, "workdir": "repo", "command": ["sh", "-c", work], "worktree": worktree}),
        )
        .await;
    }
    for (id, branch) in [("fix-1", "baton/fix-1"), ("fix-2", "agents/fix-2")] {
        let waited = ok(
            &client,
            "wait",
            json!({"ids": [id], "until": ["completed", "dead"], "timeout_s": 30}),
        )
        .await;
        assert_eq!(waited["state"], "completed", "{waited}");
        // The worktree's end follows the terminal state within moments.
        let status = loop {
            let status = ok(&client, "status", json!({"id": id})).await;
            if status["worktree"]["state"] == "removed" {
                break status;
            }
            assert_ne!(status["worktree"]["state"], "kept", "{status}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let wt = &status["worktree"];
        assert_eq!(wt["branch"], branch);
        assert_eq!(
            (wt["ahead"].as_u64(), wt["files"].as_u64()),
            (Some(1), Some(1))
        );
        let call = call(&client, "status", json!({"id": id})).await;
        assert!(
            text(&call).contains(&format!("on branch {branch} (removed)")),
            "{}",
            text(&call)
        );
        assert_eq!(git(&repo, &["show", &format!("{branch}:out.txt")]), id);
    }
    // A bad worktree setting is a tool error naming the field, and starts nothing.
    let refused = tool_error(
        &client,
        "spawn",
        json!({"id": "bad", "workdir": "repo", "command": ["true"], "worktree": {"branch": "a..b"}}),
    )
    .await;
    assert!(refused.contains("`worktree.branch`"), "{refused}");
    let refused = tool_error(
        &client,
        "spawn",
        json!({"id": "bad", "command": ["true"], "worktree": {"dir": "/tmp"}}),
    )
    .await;
    assert!(refused.contains("dir"), "{refused}");
    assert_eq!(git(&repo, &["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

/// A lead waits for what an interactive worker waits for: claude on a
/// terminal (the stand-in, calling the hooks baton installed) asks
/// permission, then ends its turn; `wait` with `kinds: ["idle"]` answers
/// at the turn's end, not at the permission, and `status` says what it
/// waits for and that its hooks report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_waits_for_a_worker_to_finish_its_turn() {
    let place = Place::new();
    std::fs::write(
        &place.config,
        format!("{CONFIG}[agents.claude]\nbin = {:?}\n", stand_in()),
    )
    .unwrap();
    let client = place.client(&[]).await;
    let script = [
        "print:claude (stand-in) ready",
        r#"hook:PermissionRequest:{"tool_name":"Edit","tool_input":{"file_path":"/repo/src/lib.rs"}}"#,
        "sleep:800ms",
        r#"hook:Stop:{"last_assistant_message":"Done: 3 files changed."}"#,
        "ask-tui:> ",
        r#"hook:UserPromptSubmit:{"prompt":"now the docs"}"#,
        "stall",
    ]
    .join("\n");
    ok(
        &client,
        "spawn",
        json!({"id": "lead-w1", "agent": "claude", "backend": "pty", "prompt": "fix it",
               "env": {"STAND_IN_SCRIPT": script}}),
    )
    .await;
    let waited = ok(
        &client,
        "wait",
        json!({"ids": ["lead-w1"], "until": ["input_wait"], "kinds": ["idle"], "timeout_s": 30}),
    )
    .await;
    assert_eq!(waited["matched"], true, "{waited}");
    assert_eq!(waited["wait_kind"], "idle", "{waited}");
    assert_eq!(waited["reason"], "input_wait:idle", "{waited}");
    assert_eq!(waited["evidence"], "Done: 3 files changed.", "{waited}");
    // The permission came first, and was no idle wait.
    let records = place.records();
    let kinds: Vec<&str> = records
        .iter()
        .filter(|r| r["event"] == "input_wait")
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["permission", "idle"]);
    let status = ok(&client, "status", json!({"id": "lead-w1"})).await;
    assert_eq!(status["wait_kind"], "idle", "{status}");
    assert_eq!(status["hooks"], "reporting", "{status}");
    assert!(
        status["next"].as_str().unwrap().contains("next prompt"),
        "{status}"
    );
    let listed = ok(&client, "list", json!({"state": ["input_wait"]})).await;
    assert_eq!(listed["sessions"][0]["wait_kind"], "idle", "{listed}");
    // The next prompt, typed into its TUI: its hooks say the turn began.
    let receipt = ok(
        &client,
        "send",
        json!({"id": "lead-w1", "text": "now the docs"}),
    )
    .await;
    assert_eq!(receipt["turn_started"], true, "{receipt}");
    assert_eq!(receipt["reason"], "prompt_submitted", "{receipt}");
    // `kinds` narrows input_wait only.
    let refused = tool_error(
        &client,
        "wait",
        json!({"until": ["dead"], "kinds": ["idle"], "timeout_s": 1}),
    )
    .await;
    assert!(refused.contains("`kinds`"), "{refused}");
    ok(&client, "kill", json!({"id": "lead-w1"})).await;
}

/// The MCP Inspector's CLI (npm `@modelcontextprotocol/inspector`, installed
/// by scripts/test.sh and named by `BATON_TEST_MCP_INSPECTOR`): a second
/// real client, and one that types tool arguments by the advertised schema,
/// as gemini's function calling does. `None` outside CI when it is missing.
fn inspector() -> Option<PathBuf> {
    match std::env::var_os("BATON_TEST_MCP_INSPECTOR") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the MCP Inspector is required in CI (scripts/test.sh installs it)"
            );
            eprintln!("skipped: BATON_TEST_MCP_INSPECTOR is not set (run scripts/test.sh)");
            None
        }
    }
}

/// `mcp-inspector --cli … baton mcp --method tools/call --tool-name TOOL
/// --tool-arg ARGS…` against the daemon at `socket`: the call's result.
fn inspect(
    inspector: &std::path::Path,
    socket: &std::path::Path,
    tool: &str,
    args: &[&str],
) -> Value {
    let mut cmd = Command::new(inspector);
    cmd.arg("--cli")
        .arg("-e")
        .arg(format!("BATON_SOCKET={}", socket.display()))
        .arg(baton())
        .arg("mcp")
        .args(["--method", "tools/call", "--tool-name", tool]);
    if !args.is_empty() {
        cmd.arg("--tool-arg").args(args);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the inspector starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the inspector's {tool} call did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["isError"], false, "{tool} {args:?}: {result}");
    result["structuredContent"].clone()
}

/// A lead whose client types arguments by the schema (the Inspector CLI:
/// `ids=["w2"]` is a list only if the schema says `"type": "array"`) lists
/// the tools with no portability problem, and spawns, lists, waits for,
/// answers and collects a worker.
#[test]
fn a_schema_driven_client_spawns_lists_waits_and_answers() {
    let Some(inspector) = inspector() else { return };
    let place = Place::new();
    let mut daemon = Command::new(baton())
        .arg("daemon")
        .arg("--socket")
        .arg(&place.socket)
        .arg("--config")
        .arg(&place.config)
        .current_dir(place.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !place.socket.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never listened"
        );
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // tools/list with the Inspector's portability check: no error.
    let out = Command::new(&inspector)
        .arg("--cli")
        .arg("--strict")
        .arg("-e")
        .arg(format!("BATON_SOCKET={}", place.socket.display()))
        .arg(baton())
        .args(["mcp", "--method", "tools/list"])
        .output()
        .expect("the inspector runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["tools"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );

    let command = serde_json::to_string(&json!([
        stand_in(),
        "print:planning",
        "ask:Apply the patch? [y/N] ",
        "print:applied",
        "exit:0"
    ]))
    .unwrap();
    let spawned = inspect(
        &inspector,
        &place.socket,
        "spawn",
        &[
            "id=w2",
            &format!("command={command}"),
            r#"capabilities=["patch"]"#,
        ],
    );
    assert_eq!(spawned["id"], "w2", "{spawned}");
    let waited = inspect(
        &inspector,
        &place.socket,
        "wait",
        &[r#"ids=["w2"]"#, r#"until=["input_wait"]"#, "timeout_s=30"],
    );
    assert_eq!(waited["state"], "input_wait", "{waited}");
    let listed = inspect(
        &inspector,
        &place.socket,
        "list",
        &[r#"state=["input_wait"]"#, "capability=patch"],
    );
    assert_eq!(listed["sessions"][0]["id"], "w2", "{listed}");
    let sent = inspect(&inspector, &place.socket, "send", &["id=w2", "text=y"]);
    assert_eq!(sent["resumed"], true, "{sent}");
    let waited = inspect(
        &inspector,
        &place.socket,
        "wait",
        &[
            r#"ids=["w2"]"#,
            r#"until=["completed","dead"]"#,
            "timeout_s=30",
        ],
    );
    assert_eq!(waited["state"], "completed", "{waited}");
    let logs = inspect(
        &inspector,
        &place.socket,
        "logs",
        &["id=w2", "stream=stdout"],
    );
    assert!(
        logs["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("applied\n")),
        "{logs}"
    );
    drop(place);
    let _ = daemon.wait();
}
