//! Every message through both framings, and every way a frame can be bad.

use std::collections::BTreeSet;
use std::io::Cursor;

use baton_proto::record::Record;
use baton_proto::request::{Accounts, Events, Kill, Logs, Ps, SendInput, Shutdown, Spawn, Via};
use baton_proto::response::{
    AccountsReport, Done, EndOfStream, ErrorReply, EventRecord, LogChunk, Sessions, Skipped,
    SkippedEvents, Spawned,
};
use baton_proto::{
    ErrorKind, Hello, HelloReply, MAX_FRAME, Message, PROTOCOL, ProtoError, Refused, Request,
    Response, SpawnAgent, SpawnAnswer, SpawnBackend, SpawnOnStall, SpawnOrigin, SpawnSpec,
    SpawnStdin, Welcome, decode_body, encode_frame, read_frame, read_frame_async, write_frame,
    write_frame_async,
};
use baton_proto::{SessionRow, SessionState};
use proptest::prelude::*;
use serde_json::json;

fn spec() -> SpawnSpec {
    let mut spec = SpawnSpec {
        id: Some("w1".into()),
        agent: Some(SpawnAgent::Codex),
        prompt: Some("fix the bug ✓".into()),
        workdir: Some("/tmp/w1".into()),
        model: Some("o4".into()),
        mcp_servers: Some(vec!["github".into()]),
        branch_guard: true,
        stdin: Some(SpawnStdin::Pipe),
        backend: Some(SpawnBackend::Tmux),
        answers: vec![SpawnAnswer {
            pattern: Some("cargo test".into()),
            reply: Some("y".into()),
            rule: Some("yes_no".into()),
        }],
        capabilities: vec!["rust".into(), "review".into()],
        max_restarts: Some(3),
        stall_after: Some("90s".into()),
        startup_timeout: Some("1500ms".into()),
        on_stall: Some(SpawnOnStall::Restart),
        ..SpawnSpec::default()
    };
    spec.env.insert("TOKEN".into(), "s3cret".into());
    spec
}

/// One example of every request; the `match` makes a new verb fail to
/// compile here until it has an example.
fn requests() -> Vec<Request> {
    let all = vec![
        Request::Spawn(Box::new(Spawn {
            spec: spec(),
            origin: None,
            via: Via::Cli,
        })),
        Request::Spawn(Box::new(Spawn {
            spec: spec(),
            origin: Some(SpawnOrigin {
                file: "s.toml".into(),
                lines: [("host".to_owned(), 4)].into(),
            }),
            via: Via::Mcp,
        })),
        Request::Ps(Ps { capability: None }),
        Request::Ps(Ps {
            capability: Some("rust".into()),
        }),
        Request::Logs(Logs {
            id: "w1".into(),
            stderr: true,
            tail: Some(20),
            follow: true,
            ..Logs::default()
        }),
        Request::Logs(Logs {
            id: "w1".into(),
            offset: Some(4096),
            tail_bytes: Some(100),
            max_bytes: Some(65_536),
            ..Logs::default()
        }),
        Request::Events(Events {
            session: Some("w1".into()),
            since: Some(41),
            follow: false,
        }),
        Request::Send(SendInput {
            id: "w1".into(),
            text: "yes \"please\"\t".into(),
            if_waiting: true,
            via: Via::Mcp,
        }),
        Request::Kill(Kill {
            id: "w1".into(),
            via: Via::Cli,
        }),
        Request::Kill(Kill {
            id: "w1".into(),
            via: Via::Mcp,
        }),
        Request::Shutdown(Shutdown { force: true }),
        Request::Accounts(Accounts {}),
    ];
    for r in &all {
        match r {
            Request::Spawn(_)
            | Request::Ps(_)
            | Request::Logs(_)
            | Request::Events(_)
            | Request::Send(_)
            | Request::Kill(_)
            | Request::Shutdown(_)
            | Request::Accounts(_) => {}
        }
    }
    all
}

fn snapshot() -> SessionRow {
    SessionRow {
        id: "w1".into(),
        agent: "command".into(),
        host: "local".into(),
        state: SessionState::Completed,
        reason: "exit_0".into(),
        restarts: 1,
        attempt: 2,
        pid: Some(4242),
        age_ms: 12_345,
        last_line: Some("done ✓".into()),
        out_bytes: u64::MAX,
        err_bytes: 0,
        exit_code: Some(0),
        exit_signal: None,
        payload: Some(
            json!({"status": "ok", "files": [1, 2.5, null], "big": 18446744073709551615u64}),
        ),
        message: None,
        capabilities: vec!["rust".into()],
        account: Some("codex/a1".into()),
        backend: "tmux".into(),
        evidence: Some("exit status 0".into()),
        wait_kind: Some(baton_proto::WaitKind::Permission),
        hooks: Some(baton_proto::HooksState::Silent),
        usage: Some(baton_proto::Usage {
            input_tokens: 1200,
            output_tokens: 340,
            cached_tokens: 5000,
            cost_usd: Some(0.0425),
            cost_estimated: false,
        }),
        worktree: Some(baton_proto::SessionWorktree {
            path: "/src/app.baton-worktrees/w1".into(),
            branch: "baton/w1".into(),
            state: "kept".into(),
            reason: Some("1 untracked file".into()),
            end: Some(baton_proto::record::WorktreeSummary {
                path: "/src/app.baton-worktrees/w1".into(),
                branch: "baton/w1".into(),
                base_commit: "1111".into(),
                head: Some("2222".into()),
                ahead: 1,
                files: 2,
                insertions: 3,
                deletions: 4,
                uncommitted: 0,
                untracked: 1,
            }),
        }),
    }
}

fn records() -> Vec<Record> {
    [
        r#"{"seq":1,"ts":"2026-11-21T04:43:31.211859Z","event":"conductor_start","version":"0.1.0","pid":15309,"fsync":"batch"}"#,
        r#"{"seq":6,"ts":"2026-11-21T04:43:31.216579Z","session":"thinker","event":"spawn","restart":0,"attempt":1,"pid":15316,"start_time":81660,"argv":["agent","print:x"],"workdir":"/work","env_keys":["BATON_SESSION_ID"],"out_offset":0,"err_offset":0}"#,
        r#"{"seq":12,"ts":"2026-11-21T04:43:31.220140Z","session":"flaky","event":"state","from":"failed","to":"restarting","reason":"crash","restarts":1,"delay_ms":304}"#,
        r#"{"seq":31,"ts":"2026-11-21T04:43:32.158851Z","session":"flaky","event":"completed","payload":{"status":"ok","n":3}}"#,
        r#"{"seq":32,"ts":"2026-11-21T04:43:32.158900Z","session":"flaky","event":"worktree","path":"/src/app.baton-worktrees/flaky","repo":"/src/app","branch":"baton/flaky","base":"HEAD","base_commit":"1111","created":true,"copied":[".env"]}"#,
        r#"{"seq":33,"ts":"2026-11-21T04:43:32.159000Z","session":"flaky","event":"worktree_kept","path":"/src/app.baton-worktrees/flaky","branch":"baton/flaky","base_commit":"1111","head":"2222","ahead":1,"files":2,"insertions":3,"deletions":4,"uncommitted":1,"untracked":0,"reason":"1 uncommitted change"}"#,
    ]
    .iter()
    .map(|line| serde_json::from_str(line).expect("fixture record parses"))
    .collect()
}

/// One example of every response.
fn responses() -> Vec<Response> {
    let mut all = vec![
        Response::Spawned(Spawned { id: "w1".into() }),
        Response::Sessions(Sessions::default()),
        Response::Sessions(Sessions {
            sessions: vec![snapshot(), snapshot()],
            seq: Some(4242),
            seq_end: Some(4250),
        }),
        Response::LogChunk(LogChunk::new(1024, b"\x1b[31mred\xff\xfe\n")),
        Response::Skipped(Skipped {
            bytes: 65_536,
            deleted: false,
        }),
        Response::Skipped(Skipped {
            bytes: 1 << 26,
            deleted: true,
        }),
        Response::SkippedEvents(SkippedEvents {
            count: 17,
            deleted: false,
        }),
        Response::SkippedEvents(SkippedEvents {
            count: 4096,
            deleted: true,
        }),
        Response::EndOfStream(EndOfStream::default()),
        Response::EndOfStream(EndOfStream {
            log_len: Some(1 << 40),
        }),
        Response::Done(Done {}),
        Response::error(ErrorKind::UnknownSession, "unknown session `w9`"),
        Response::error(ErrorKind::NotWaiting, "session `w1` is healthy"),
        Response::error(ErrorKind::BadRequest, "bad"),
        Response::error(ErrorKind::Refused, "shutting down"),
        Response::error(ErrorKind::Internal, "disk full"),
        Response::error(ErrorKind::Unsupported, "no"),
        Response::Accounts(AccountsReport {
            status: json!({"accounts": [{"provider": "codex", "id": "a1"}], "eta": [["codex", null]]}),
        }),
    ];
    all.extend(
        records()
            .into_iter()
            .map(|record| Response::Event(Box::new(EventRecord { record }))),
    );
    for r in &all {
        match r {
            Response::Spawned(_)
            | Response::Sessions(_)
            | Response::LogChunk(_)
            | Response::Skipped(_)
            | Response::SkippedEvents(_)
            | Response::Event(_)
            | Response::EndOfStream(_)
            | Response::Done(_)
            | Response::Error(_)
            | Response::Accounts(_) => {}
        }
    }
    all
}

fn hellos() -> (Vec<Hello>, Vec<HelloReply>) {
    (
        vec![Hello::new("0.1.0")],
        vec![
            HelloReply::Welcome(Welcome {
                protocol: PROTOCOL,
                server: "0.1.0".into(),
                pid: 77,
            }),
            HelloReply::Refused(Refused {
                reason: "no".into(),
                protocol: PROTOCOL,
            }),
        ],
    )
}

fn sync_round_trip<T: Message + PartialEq + std::fmt::Debug>(msgs: &[T]) {
    let mut wire = Vec::new();
    for m in msgs {
        write_frame(&mut wire, m).expect("writes");
    }
    let mut r = Cursor::new(wire);
    for m in msgs {
        let back: T = read_frame(&mut r).expect("reads").expect("a frame");
        assert_eq!(&back, m);
    }
    assert!(read_frame::<T>(&mut r).expect("clean close").is_none());
}

async fn async_round_trip<T: Message + PartialEq + std::fmt::Debug>(msgs: &[T]) {
    // A small duplex buffer makes frames cross several reads and writes.
    let (mut a, mut b) = tokio::io::duplex(64);
    let writer = async {
        for m in msgs {
            write_frame_async(&mut a, m).await.expect("writes");
        }
        drop(a);
    };
    let reader = async {
        let mut got = Vec::new();
        while let Some(m) = read_frame_async::<T>(&mut b).await.expect("reads") {
            got.push(m);
        }
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    assert_eq!(got, msgs);
}

#[test]
fn every_message_round_trips_through_sync_frames() {
    sync_round_trip(&requests());
    sync_round_trip(&responses());
    let (hello, replies) = hellos();
    sync_round_trip(&hello);
    sync_round_trip(&replies);
}

#[tokio::test]
async fn every_message_round_trips_through_async_frames() {
    async_round_trip(&requests()).await;
    async_round_trip(&responses()).await;
    let (hello, replies) = hellos();
    async_round_trip(&hello).await;
    async_round_trip(&replies).await;
}

#[test]
fn known_tags_match_the_variants() {
    let verbs: BTreeSet<_> = requests().iter().map(Request::verb).collect();
    assert_eq!(verbs, Request::VERBS.iter().copied().collect());
    let replies: BTreeSet<_> = responses().iter().map(Response::reply).collect();
    assert_eq!(replies, Response::REPLIES.iter().copied().collect());
    for r in requests() {
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["verb"], r.verb());
    }
    for r in responses() {
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["reply"], r.reply());
    }
}

#[test]
fn wire_shapes_are_as_documented() {
    let frame = encode_frame(&Request::Kill(Kill {
        id: "w1".into(),
        via: Via::Cli,
    }))
    .unwrap();
    let body = br#"{"verb":"kill","id":"w1"}"#;
    assert_eq!(&frame[..4], &(body.len() as u32).to_be_bytes());
    assert_eq!(&frame[4..], body);
    assert_eq!(
        serde_json::to_value(Hello::new("0.1.0")).unwrap(),
        json!({"protocol": {"major": 1, "minor": 4}, "client": "0.1.0"})
    );
    assert_eq!(
        serde_json::to_value(Response::EndOfStream(EndOfStream::default())).unwrap(),
        json!({"reply": "end_of_stream"})
    );
    assert_eq!(
        serde_json::to_value(Request::Send(SendInput {
            id: "w1".into(),
            text: "y".into(),
            if_waiting: true,
            via: Via::Mcp,
        }))
        .unwrap(),
        json!({"verb": "send", "id": "w1", "text": "y", "if_waiting": true, "via": "mcp"})
    );
    assert_eq!(
        serde_json::to_value(Response::LogChunk(LogChunk::new(7, b"hi"))).unwrap(),
        json!({"reply": "log_chunk", "data": "aGk=", "offset": 7})
    );
}

#[test]
fn optional_fields_may_be_omitted_and_unknown_fields_are_ignored() {
    let cases: &[(&str, Request)] = &[
        (
            r#"{"verb":"logs","id":"w1"}"#,
            Request::Logs(Logs {
                id: "w1".into(),
                ..Logs::default()
            }),
        ),
        (r#"{"verb":"ps"}"#, Request::Ps(Ps::default())),
        (r#"{"verb":"events"}"#, Request::Events(Events::default())),
        (
            r#"{"verb":"shutdown"}"#,
            Request::Shutdown(Shutdown::default()),
        ),
        (
            r#"{"verb":"kill","id":"w1","signal":"TERM","v2":{"a":[1]}}"#,
            Request::Kill(Kill {
                id: "w1".into(),
                via: Via::Cli,
            }),
        ),
        (
            // A client kind from a newer client is kept apart, not refused.
            r#"{"verb":"kill","id":"w1","via":"ide"}"#,
            Request::Kill(Kill {
                id: "w1".into(),
                via: Via::Other,
            }),
        ),
        (
            r#"{"verb":"send","id":"w1","text":"y"}"#,
            Request::Send(SendInput {
                id: "w1".into(),
                text: "y".into(),
                if_waiting: false,
                via: Via::Cli,
            }),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(
            &decode_body::<Request>(body.as_bytes()).unwrap(),
            want,
            "{body}"
        );
    }
    let welcome: HelloReply =
        decode_body(br#"{"reply":"welcome","protocol":{"major":1,"minor":9,"patch":2},"server":"9.9.9","pid":1,"features":[]}"#)
            .unwrap();
    assert!(welcome.accept(PROTOCOL).is_ok());
}

#[test]
fn unknown_error_kind_decodes_as_unsupported() {
    let r: Response =
        decode_body(br#"{"reply":"error","kind":"quota_exceeded","message":"m"}"#).unwrap();
    assert_eq!(
        r,
        Response::Error(ErrorReply {
            kind: ErrorKind::Unsupported,
            message: "m".into()
        })
    );
}

#[test]
fn a_response_decodes_the_same_wherever_its_reply_field_stands() {
    for response in responses() {
        let body = serde_json::to_value(&response).unwrap();
        let object = body.as_object().unwrap();
        // Written by hand with `reply` last, and with it in the middle.
        let fields: Vec<(&String, &serde_json::Value)> =
            object.iter().filter(|(k, _)| *k != "reply").collect();
        let reply = &object["reply"];
        let write = |fields: &[(&String, &serde_json::Value)], at: usize| {
            let mut parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
                .collect();
            parts.insert(at.min(parts.len()), format!("\"reply\":{reply}"));
            format!("{{{}}}", parts.join(","))
        };
        for at in [fields.len(), fields.len() / 2] {
            let text = write(&fields, at);
            assert_eq!(
                decode_body::<Response>(text.as_bytes()).unwrap(),
                response,
                "{text}"
            );
        }
    }
    // Missing, not a string, or unknown: told apart as before.
    for body in [&br#"{"id":"w1"}"#[..], br#"{"id":"w1","reply":7}"#] {
        assert!(
            matches!(
                decode_body::<Response>(body),
                Err(ProtoError::Garbage { .. })
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(matches!(
        decode_body::<Response>(br#"{"id":"w1","reply":"teleported"}"#),
        Err(ProtoError::NewerPeer { .. })
    ));
}

#[test]
fn garbage_is_told_apart_from_a_newer_peer() {
    let garbage: &[&[u8]] = &[
        b"not json",
        b"",
        b"[1,2]",
        b"\"verb\"",
        b"null",
        b"{\"x\":1}",
        b"{\"verb\":7}",
        b"{\"verb\":null}",
        b"{\"verb\":\"kill\"}",
        b"{\"verb\":\"kill\",\"id\":3}",
        b"{\"verb\":\"spawn\",\"spec\":{\"agent\":\"cursor\"}}",
        b"{\"verb\":\"kill\",\"id\":\"\xff\"}",
        b"{\"verb\":\"ps\"} trailing",
    ];
    for body in garbage {
        match decode_body::<Request>(body) {
            Err(e @ ProtoError::Garbage { .. }) => assert!(e.stream_intact()),
            other => panic!(
                "{:?}: expected garbage, got {other:?}",
                String::from_utf8_lossy(body)
            ),
        }
    }
    match decode_body::<Request>(br#"{"verb":"kill"}"#) {
        Err(ProtoError::Garbage { detail }) => {
            assert!(detail.contains("kill") && detail.contains("id"), "{detail}")
        }
        other => panic!("{other:?}"),
    }

    match decode_body::<Request>(br#"{"verb":"teleport"}"#) {
        Err(e @ ProtoError::NewerPeer { .. }) => {
            assert!(e.stream_intact());
            assert!(e.to_string().contains("`teleport`"), "{e}");
            let reply = e.reply().expect("an error reply");
            assert!(
                matches!(
                    &reply,
                    Response::Error(ErrorReply {
                        kind: ErrorKind::Unsupported,
                        ..
                    })
                ),
                "{reply:?}"
            );
        }
        other => panic!("expected newer peer, got {other:?}"),
    }
    assert!(matches!(
        decode_body::<Response>(br#"{"reply":"hologram","x":1}"#),
        Err(ProtoError::NewerPeer { verb_or_reply }) if verb_or_reply == "hologram"
    ));
    assert!(matches!(
        decode_body::<HelloReply>(br#"{"reply":"upgrade_to_quic"}"#),
        Err(ProtoError::NewerPeer { .. })
    ));
    // A request is not a response, even though both are tagged objects.
    assert!(matches!(
        decode_body::<Response>(br#"{"verb":"ps"}"#),
        Err(ProtoError::Garbage { .. })
    ));
}

#[test]
fn a_bad_frame_leaves_the_next_one_readable() {
    let mut wire = Vec::new();
    for body in [&b"not json"[..], br#"{"verb":"teleport"}"#] {
        wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
        wire.extend_from_slice(body);
    }
    write_frame(&mut wire, &Request::Ps(Ps::default())).unwrap();
    let mut r = Cursor::new(wire);
    assert!(matches!(
        read_frame::<Request>(&mut r),
        Err(ProtoError::Garbage { .. })
    ));
    assert!(matches!(
        read_frame::<Request>(&mut r),
        Err(ProtoError::NewerPeer { .. })
    ));
    assert_eq!(
        read_frame::<Request>(&mut r).unwrap(),
        Some(Request::Ps(Ps::default()))
    );
}

/// A reader that fails the test if asked for more than the header: proves the
/// oversized body is neither allocated for nor read.
struct HeaderOnly<'a>(&'a [u8]);

impl std::io::Read for HeaderOnly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        assert!(
            buf.len() <= 4,
            "asked for {} bytes after a bad header",
            buf.len()
        );
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn an_oversized_length_is_refused_before_reading_the_body() {
    for len in [u32::MAX, MAX_FRAME as u32 + 1] {
        let header = len.to_be_bytes();
        match read_frame::<Request>(&mut HeaderOnly(&header)) {
            Err(e @ ProtoError::FrameTooLarge { .. }) => {
                assert!(!e.stream_intact());
                let msg = e.to_string();
                assert!(msg.contains(&len.to_string()), "{msg}");
                assert!(matches!(
                    e.reply(),
                    Some(Response::Error(ErrorReply {
                        kind: ErrorKind::BadRequest,
                        ..
                    }))
                ));
            }
            other => panic!("{len}: {other:?}"),
        }
    }
    // Exactly MAX_FRAME is allowed (and is then an ordinary truncated frame here).
    let header = (MAX_FRAME as u32).to_be_bytes();
    assert!(matches!(
        read_frame::<Request>(&mut Cursor::new(header)),
        Err(ProtoError::Truncated { needed, got: 0 }) if needed == MAX_FRAME as u64
    ));
}

#[tokio::test]
async fn an_oversized_length_is_refused_async() {
    let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        read_frame_async::<Response>(&mut r).await,
        Err(ProtoError::FrameTooLarge {
            len: 0xffff_ffff,
            ..
        })
    ));
}

#[test]
fn writing_an_oversized_message_writes_nothing() {
    let huge = Request::Send(SendInput {
        id: "w1".into(),
        text: "x".repeat(MAX_FRAME),
        if_waiting: false,
        via: Via::Cli,
    });
    let mut wire = Vec::new();
    assert!(matches!(
        write_frame(&mut wire, &huge),
        Err(ProtoError::FrameTooLarge { .. })
    ));
    assert!(wire.is_empty());
}

#[test]
fn a_full_log_chunk_fits_in_a_frame() {
    let chunk = Response::LogChunk(LogChunk::new(u64::MAX, &vec![0xff; LogChunk::MAX_BYTES]));
    assert!(encode_frame(&chunk).unwrap().len() < MAX_FRAME / 4);
}

#[test]
fn truncation_is_told_apart_from_a_clean_close() {
    let frame = encode_frame(&Request::Kill(Kill {
        id: "w1".into(),
        via: Via::Cli,
    }))
    .unwrap();
    assert!(
        read_frame::<Request>(&mut Cursor::new(&[][..]))
            .unwrap()
            .is_none()
    );
    for cut in 1..frame.len() {
        let (needed, got) = if cut < 4 {
            (4, cut)
        } else {
            (frame.len() - 4, cut - 4)
        };
        match read_frame::<Request>(&mut Cursor::new(&frame[..cut])) {
            Err(e @ ProtoError::Truncated { .. }) => {
                assert!(!e.stream_intact());
                assert!(e.reply().is_none());
                assert!(
                    matches!(e, ProtoError::Truncated { needed: n, got: g } if n == needed as u64 && g == got as u64),
                    "cut {cut}: {e}"
                );
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn truncation_is_told_apart_from_a_clean_close_async() {
    let frame = encode_frame(&Response::Done(Done {})).unwrap();
    let mut empty: &[u8] = &[];
    assert!(
        read_frame_async::<Response>(&mut empty)
            .await
            .unwrap()
            .is_none()
    );
    for cut in 1..frame.len() {
        let mut r = &frame[..cut];
        assert!(
            matches!(
                read_frame_async::<Response>(&mut r).await,
                Err(ProtoError::Truncated { .. })
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn ends_exchange_marks_only_the_last_response() {
    for r in responses() {
        let streamed = matches!(
            r,
            Response::LogChunk(_)
                | Response::Skipped(_)
                | Response::SkippedEvents(_)
                | Response::Event(_)
        );
        assert_eq!(r.ends_exchange(), !streamed, "{}", r.reply());
    }
    for r in requests() {
        assert_eq!(r.is_streaming(), matches!(r.verb(), "logs" | "events"));
    }
}

/// The wire form of a spawn spec, pinned: this crate owns it, and nothing
/// outside it (a rename in baton-config) can change it.
#[test]
fn a_spawn_spec_crosses_the_wire_in_its_pinned_form() {
    let spawned = Request::Spawn(Box::new(Spawn {
        spec: spec(),
        origin: None,
        via: Via::Mcp,
    }));
    let Request::Spawn(spawn) =
        decode_body::<Request>(&encode_frame(&spawned).unwrap()[4..]).unwrap()
    else {
        panic!("not a spawn");
    };
    assert_eq!(spawn.spec, spec());
    assert_eq!(
        serde_json::to_value(spec()).unwrap(),
        json!({
            "id": "w1",
            "agent": "codex",
            "prompt": "fix the bug ✓",
            "workdir": "/tmp/w1",
            "env": {"TOKEN": "s3cret"},
            "model": "o4",
            "mcp_servers": ["github"],
            "branch_guard": true,
            "stdin": "pipe",
            "backend": "tmux",
            "answer": [{"pattern": "cargo test", "reply": "y", "rule": "yes_no"}],
            "capabilities": ["rust", "review"],
            "max_restarts": 3,
            "stall_after": "90s",
            "startup_timeout": "1500ms",
            "on_stall": "restart",
        })
    );
}

/// True unless the result says the frame was not read to its end.
fn read_whole<T>(r: &Result<Option<T>, ProtoError>) -> bool {
    !matches!(
        r,
        Err(ProtoError::Truncated { .. } | ProtoError::FrameTooLarge { .. })
    )
}

/// What the fuzz target (`fuzz/fuzz_targets/proto.rs`) does: read frames
/// until the stream ends or breaks; a frame that decodes must encode again
/// and decode to the same value.
fn frames<T: Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Cursor::new(data);
    loop {
        match read_frame::<T>(&mut r) {
            Ok(Some(msg)) => {
                let again = encode_frame(&msg).expect("a decoded message encodes");
                let back: T = decode_body(&again[4..]).expect("an encoded message decodes");
                assert_eq!(back, msg);
            }
            Ok(None) => break,
            Err(e) if e.stream_intact() => {}
            Err(ProtoError::Truncated { .. } | ProtoError::FrameTooLarge { .. }) => break,
            Err(e) => panic!("unexpected error from an in-memory stream: {e}"),
        }
    }
}

/// Valid frames of every type, cut and spliced with arbitrary bytes.
fn hostile_stream() -> impl Strategy<Value = Vec<u8>> {
    let mut valid = Vec::new();
    for r in requests() {
        valid.push(encode_frame(&r).unwrap());
    }
    for r in responses() {
        valid.push(encode_frame(&r).unwrap());
    }
    let piece = prop_oneof![
        proptest::sample::select(valid),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn read_frame_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        frames::<Request>(&bytes);
        frames::<Response>(&bytes);
        frames::<Hello>(&bytes);
        frames::<HelloReply>(&bytes);
    }

    #[test]
    fn spliced_streams_never_panic(bytes in hostile_stream()) {
        frames::<Request>(&bytes);
        frames::<Response>(&bytes);
    }

    #[test]
    fn framed_json_objects_never_panic(body in r#"\{"(verb|reply)":"[a-z_]{0,12}"(,"[a-z_]{1,8}":("[^"\\]{0,8}"|[0-9]{1,20}|true|null|\[\]|\{\}))*\}"#) {
        let mut wire = (body.len() as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(body.as_bytes());
        let req = read_frame::<Request>(&mut Cursor::new(&wire));
        let resp = read_frame::<Response>(&mut Cursor::new(&wire));
        prop_assert!(read_whole(&req), "{:?}", req);
        prop_assert!(read_whole(&resp), "{:?}", resp);
    }

    #[test]
    fn log_chunks_carry_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024), offset in any::<u64>()) {
        let chunk = Response::LogChunk(LogChunk::new(offset, &bytes));
        let back: Response = read_frame(&mut Cursor::new(encode_frame(&chunk).unwrap())).unwrap().unwrap();
        let Response::LogChunk(back) = back else { panic!("not a chunk") };
        prop_assert_eq!(back.offset, offset);
        prop_assert_eq!(back.bytes().unwrap(), bytes);
    }
}
