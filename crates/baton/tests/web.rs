//! `baton web` against a real daemon (which it starts, as `baton mcp`
//! does): the token, the cookie and CSRF rules, the JSON API, the event
//! stream, answers with their receipts, and agent output kept as text.
//! HTTP is spoken over a plain `TcpStream`, as any client would.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{baton, stand_in};
use serde_json::Value;

const SLOW: Duration = Duration::from_secs(20);

/// `baton web` on a free port, its daemon, and the tokens.
struct Web {
    dir: tempfile::TempDir,
    child: Child,
    socket: PathBuf,
    addr: String,
    token: String,
}

/// An HTTP response.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

impl Web {
    fn start() -> Web {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let config = dir.path().join("baton.toml");
        std::fs::write(
            &config,
            "[conductor]\nlogs_dir = \"logs\"\ngrace = \"2s\"\n[probe]\nstall_after = \"300ms\"\n",
        )
        .unwrap();
        let mut child = Command::new(baton())
            .args(["web", "--listen", "127.0.0.1:0", "--socket"])
            .arg(&socket)
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .env_remove("BATON_SOCKET")
            .env_remove("BATON_WEB_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim();
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the first line is the URL: {url:?}"));
        let (addr, query) = rest.split_once("/?token=").unwrap();
        assert!(addr.starts_with("127.0.0.1:"), "{url}");
        Web {
            dir,
            child,
            socket,
            addr: addr.to_owned(),
            token: query.to_owned(),
        }
    }

    /// One request; `Connection: close`, the whole reply read.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(SLOW)).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[("Authorization", &self.bearer())], "")
    }

    fn post(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[
                ("Authorization", &self.bearer()),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    }

    /// `baton ARGS` against the daemon `baton web` started.
    fn baton(&self, args: &[&str]) -> Output {
        Command::new(baton())
            .args(args)
            .env("BATON_SOCKET", &self.socket)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn spawn(&self, id: &str, steps: &[&str]) {
        let stand_in = stand_in();
        let mut args = vec!["spawn", "--id", id, "--", &stand_in];
        args.extend_from_slice(steps);
        let out = self.baton(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn row(&self, id: &str) -> Value {
        self.get(&format!("/api/sessions/{id}")).json()
    }

    fn wait_state(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + SLOW;
        loop {
            let row = self.row(id);
            if row["state"] == state {
                return row;
            }
            assert!(Instant::now() < deadline, "{id} never {state}: {row}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The session cookie (`name=value`) the token URL sets.
    fn cookie(&self) -> String {
        let opened = self.request("GET", &format!("/?token={}", self.token), &[], "");
        let set = opened
            .header("set-cookie")
            .expect("the token URL sets a cookie");
        set.split(';').next().unwrap_or_default().to_owned()
    }

    /// The page's CSRF token (from its meta tag), with the cookie.
    fn csrf(&self, cookie: &str) -> String {
        let page = self.request("GET", "/", &[("Cookie", cookie)], "");
        assert_eq!(page.status, 200, "{}", page.body);
        let at = page.body.find("name=\"baton-csrf\" content=\"").unwrap() + 27;
        page.body[at..at + 64].to_owned()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.baton(&["shutdown"]);
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

#[test]
fn without_the_token_nothing_is_served_and_the_token_url_sets_a_strict_cookie() {
    let web = Web::start();
    for path in [
        "/",
        "/app.js",
        "/api/sessions",
        "/api/events",
        "/api/sessions/x/logs",
    ] {
        let reply = web.request("GET", path, &[], "");
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
        assert!(reply.json()["error"].as_str().is_some(), "{path}");
    }
    let wrong = web.request("GET", "/?token=0123456789abcdef0123456789abcdef", &[], "");
    assert_eq!(wrong.status, 401);
    let wrong_bearer = web.request(
        "GET",
        "/api/sessions",
        &[("Authorization", "Bearer nope")],
        "",
    );
    assert_eq!(wrong_bearer.status, 401);

    let opened = web.request("GET", &format!("/?token={}", web.token), &[], "");
    assert_eq!(opened.status, 303);
    assert_eq!(
        opened.header("location"),
        Some("/"),
        "the token leaves the address bar"
    );
    let cookie = opened.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let page = web.request("GET", "/", &[("Cookie", pair)], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<script src=\"/app.js\">"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        web.request("GET", "/app.js", &[("Cookie", pair)], "")
            .status,
        200
    );
}

#[test]
fn sessions_are_listed_with_their_output_and_unknown_ones_are_404() {
    let web = Web::start();
    web.spawn("lister", &["print:hello from the agent", "stall"]);
    web.wait_state("lister", "stalled").to_string();
    let table = web.get("/api/sessions").json();
    assert!(table["seq"].as_u64().unwrap() > 0);
    let ids: Vec<&str> = table["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["lister"]);
    let logs = web.get("/api/sessions/lister/logs?offset=0").json();
    assert_eq!(logs["text"], "hello from the agent\n");
    assert_eq!(logs["next_offset"], 21);
    for path in [
        "/api/sessions/nope",
        "/api/sessions/nope/logs",
        "/api/nothing",
    ] {
        let reply = web.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.json()["error"].as_str().is_some());
    }
    assert_eq!(web.post("/api/sessions/nope/kill", "").status, 404);
}

#[test]
fn the_event_stream_shows_a_new_session_within_two_seconds() {
    let web = Web::start();
    let since = web.get("/api/sessions").json()["seq"].as_u64().unwrap();
    let mut stream = TcpStream::connect(&web.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /api/events?since={since} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        web.addr,
        web.bearer()
    )
    .unwrap();
    // The stream is open before the session is spawned.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + SLOW;
    while !String::from_utf8_lossy(&seen).contains("text/event-stream") {
        assert!(
            Instant::now() < deadline,
            "no stream: {}",
            String::from_utf8_lossy(&seen)
        );
        if let Ok(n) = stream.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
    let spawned = Instant::now();
    web.spawn("streamed", &["print:hi", "stall"]);
    loop {
        let text = String::from_utf8_lossy(&seen);
        if text.contains("event: record") && text.contains("\"session\":\"streamed\"") {
            break;
        }
        assert!(
            spawned.elapsed() < Duration::from_secs(2),
            "not on the stream within 2 s: {text}"
        );
        if let Ok(n) = stream.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn an_answer_is_delivered_with_its_receipt_and_refused_when_not_waiting() {
    let web = Web::start();
    web.spawn(
        "asker",
        &["ask:Apply these changes? (y/n) ", "print:done", "stall"],
    );
    web.spawn("busy", &["print:working", "stall"]);
    let row = web.wait_state("asker", "input_wait");
    assert!(
        row["evidence"]
            .as_str()
            .unwrap()
            .contains("Apply these changes?"),
        "{row}"
    );
    web.wait_state("busy", "stalled");
    let refused = web.post("/api/sessions/busy/send", r#"{"text":"y"}"#);
    assert_eq!(refused.status, 409, "{}", refused.body);
    let bad = web.post("/api/sessions/asker/send", r#"{"text":"y\nn"}"#);
    assert_eq!(bad.status, 400, "{}", bad.body);
    let garbage = web.post("/api/sessions/asker/send", "not json");
    assert_eq!(garbage.status, 400, "{}", garbage.body);

    let receipt = web.post(
        "/api/sessions/asker/send",
        r#"{"text":"y","if_waiting":true}"#,
    );
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    let receipt = receipt.json();
    let seq = receipt["seq"].as_u64().unwrap();
    let events = web.baton(&["events", "--json"]);
    let input = String::from_utf8_lossy(&events.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["seq"] == seq)
        .unwrap();
    assert_eq!(input["event"], "input", "{input}");
    assert_eq!(input["source"], "web", "{input}");
    let logs = web.get("/api/sessions/asker/logs").json();
    assert!(logs["text"].as_str().unwrap().contains("done"), "{logs}");
}

#[test]
fn a_change_with_the_cookie_alone_is_refused_unless_it_is_the_pages() {
    let web = Web::start();
    web.spawn("target", &["print:up", "stall"]);
    web.wait_state("target", "stalled");
    let cookie = web.cookie();
    let csrf = web.csrf(&cookie);
    let own = format!("http://{}", web.addr);
    for (origin, token) in [
        (Some("http://evil.example"), Some(csrf.as_str())),
        (None, Some(csrf.as_str())),
        (Some(own.as_str()), None),
        (Some(own.as_str()), Some("0000")),
    ] {
        let mut headers = vec![("Cookie", cookie.as_str())];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        if let Some(token) = token {
            headers.push(("X-Baton-Csrf", token));
        }
        let reply = web.request("POST", "/api/sessions/target/kill", &headers, "");
        assert_eq!(reply.status, 403, "{origin:?} {token:?}: {}", reply.body);
    }
    assert_eq!(web.row("target")["state"], "stalled", "nothing was killed");
    let headers = [
        ("Cookie", cookie.as_str()),
        ("Origin", own.as_str()),
        ("X-Baton-Csrf", csrf.as_str()),
    ];
    let killed = web.request("POST", "/api/sessions/target/kill", &headers, "");
    assert_eq!(killed.status, 200, "{}", killed.body);
    assert_eq!(killed.json()["state"], "dead");
}

#[test]
fn agent_output_that_looks_like_html_is_served_as_text() {
    let web = Web::start();
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    web.spawn("hostile", &[&format!("print:{hostile}"), "stall"]);
    web.wait_state("hostile", "stalled");
    let reply = web.get("/api/sessions/hostile/logs");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json"),
        "JSON, never HTML"
    );
    assert_eq!(reply.json()["text"], format!("{hostile}\n"));
    // The page sets every text with textContent: nothing in its script
    // parses a string as HTML.
    let cookie = web.cookie();
    let script = web
        .request("GET", "/app.js", &[("Cookie", &cookie)], "")
        .body;
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "the page's script uses {sink}");
    }
}

/// puppeteer-core and Chromium, as scripts/test.sh installs them
/// (`BATON_TEST_PUPPETEER`, `BATON_TEST_CHROMIUM`). `None` outside CI when
/// they are missing.
fn browser() -> Option<(PathBuf, PathBuf)> {
    match (
        std::env::var_os("BATON_TEST_PUPPETEER"),
        std::env::var_os("BATON_TEST_CHROMIUM"),
    ) {
        (Some(puppeteer), Some(chromium)) => Some((puppeteer.into(), chromium.into())),
        // scripts/test.sh tried and could not install it: said loudly.
        (Some(_), None) if std::env::var_os("BATON_TEST_CHROMIUM_MISSING").is_some() => {
            eprintln!(
                "SKIPPED the browser test: {}",
                std::env::var("BATON_TEST_CHROMIUM_MISSING").unwrap_or_default()
            );
            None
        }
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "puppeteer-core and Chromium are required in CI (scripts/test.sh installs them)"
            );
            eprintln!(
                "skipped: BATON_TEST_PUPPETEER or BATON_TEST_CHROMIUM is not set (run scripts/test.sh)"
            );
            None
        }
    }
}

/// The page in a real headless Chromium at phone width (tests/web/page.mjs):
/// it lists the sessions, hostile output stays text, a session that starts
/// waiting moves to the top without a reload, and an answer typed in the
/// page is delivered with its receipt. With `BATON_WEB_SHOTS=DIR` it leaves
/// the phone and desktop screenshots there (docs/ holds the committed ones).
#[test]
fn the_page_lists_updates_live_and_answers_in_a_real_browser() {
    let Some((puppeteer, chromium)) = browser() else {
        return;
    };
    let web = Web::start();
    web.spawn(
        "hostile",
        &[
            "print:<script>window.__xss=1</script><img src=x onerror=\"window.__xss=1\">",
            "stall",
        ],
    );
    web.spawn("worker", &["print:compiling", "stall"]);
    web.wait_state("hostile", "stalled");
    web.wait_state("worker", "stalled");
    let shots = std::env::var_os("BATON_WEB_SHOTS");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/page.mjs");
    let mut driver = Command::new("node")
        .arg(&script)
        .env(
            "BATON_WEB_URL",
            format!("http://{}/?token={}", web.addr, web.token),
        )
        .env("BATON_TEST_PUPPETEER", &puppeteer)
        .env("BATON_TEST_CHROMIUM", &chromium)
        .envs(shots.iter().map(|dir| ("BATON_WEB_SHOTS", dir)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut said = BufReader::new(driver.stdout.take().unwrap());
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    if line.trim() != "listed" {
        let out = driver.wait_with_output().unwrap();
        panic!(
            "the page did not list the sessions: {line:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    web.spawn(
        "asker",
        &["ask:Deploy to staging? (y/n) ", "print:deploying", "stall"],
    );
    let mut stdin = driver.stdin.take().unwrap();
    writeln!(stdin, "spawned").unwrap();
    let mut rest = String::new();
    said.read_to_string(&mut rest).unwrap();
    let out = driver.wait_with_output().unwrap();
    assert!(
        out.status.success() && rest.contains("done"),
        "{rest}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt = rest
        .lines()
        .find_map(|l| l.strip_prefix("receipt: delivered: input record #"))
        .unwrap_or_else(|| panic!("no receipt: {rest}"));
    let seq: u64 = receipt
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let events = web.baton(&["events", "--json", "--session", "asker"]);
    let input = String::from_utf8_lossy(&events.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["seq"] == seq)
        .unwrap();
    assert_eq!(
        (&input["event"], &input["source"]),
        (&Value::from("input"), &Value::from("web"))
    );
    let logs = web.get("/api/sessions/asker/logs").json();
    assert!(
        logs["text"].as_str().unwrap().contains("deploying"),
        "{logs}"
    );
}

#[test]
fn the_screen_is_the_output_as_a_terminal_shows_it() {
    let web = Web::start();
    web.spawn(
        "painter",
        &[
            "print:\u{1b}[31mred\u{1b}[0m plain",
            "print:10%\rdone",
            "stall",
        ],
    );
    web.wait_state("painter", "stalled");
    let raw = web.get("/api/sessions/painter/logs").json();
    assert!(
        raw["text"].as_str().unwrap().contains("\u{1b}[31m"),
        "{raw}"
    );
    let screen = web
        .get("/api/sessions/painter/screen?rows=5&cols=40")
        .json();
    assert_eq!(
        (screen["rows"].as_u64(), screen["cols"].as_u64()),
        (Some(5), Some(40))
    );
    let text = screen["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    assert_eq!(&lines[..2], ["red plain", "done"], "{text:?}");
    assert_eq!(web.get("/api/sessions/nope/screen").status, 404);
}
