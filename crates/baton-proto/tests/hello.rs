//! The hello exchange: who may talk to whom, and what the user is told.

use std::io::Cursor;

use baton_proto::{
    Hello, HelloReply, PROTOCOL, ProtoError, Side, Version, Welcome, incompatibility, read_frame,
    write_frame,
};

const V1_0: Version = Version::new(1, 0);
const V1_7: Version = Version::new(1, 7);
const V2_0: Version = Version::new(2, 0);
const V2_3: Version = Version::new(2, 3);

fn hello(protocol: Version) -> Hello {
    Hello {
        protocol,
        client: "0.1.0".into(),
    }
}

#[test]
fn this_build_speaks_1_4_which_a_1_0_peer_accepts() {
    assert_eq!(PROTOCOL, Version::new(1, 4));
    assert_eq!(PROTOCOL.to_string(), "1.4");
    assert_eq!(Hello::new("x").protocol, PROTOCOL);
    assert!(PROTOCOL.is_compatible(V1_0) && V1_0.is_compatible(PROTOCOL));
}

/// (daemon, client, expected refusal wording or None for welcome).
const MATRIX: &[(Version, Version, Option<&str>)] = &[
    (V1_0, V1_0, None),
    (V1_0, V1_7, None),
    (V1_7, V1_0, None),
    (V2_3, V2_0, None),
    (
        V2_0,
        V1_7,
        Some("the daemon speaks protocol 2.x, this client 1.x: upgrade baton"),
    ),
    (
        V2_3,
        V1_0,
        Some("the daemon speaks protocol 2.x, this client 1.x: upgrade baton"),
    ),
    (
        V1_0,
        V2_0,
        Some(
            "the daemon speaks protocol 1.x, this client 2.x: the daemon is older; \
             stop it and start `baton daemon` again with this baton",
        ),
    ),
];

#[test]
fn compatibility_matrix() {
    for &(daemon, client, refusal) in MATRIX {
        let case = format!("daemon {daemon}, client {client}");
        assert_eq!(
            incompatibility(daemon, client).as_deref(),
            refusal,
            "{case}"
        );
        assert_eq!(daemon.is_compatible(client), refusal.is_none(), "{case}");

        // Daemon side.
        let h = hello(client);
        assert_eq!(h.check(daemon).is_ok(), refusal.is_none(), "{case}");
        let reply = h.answer(daemon, "9.9.9", 4242);

        // Client side, after the reply crossed the wire.
        let mut wire = Vec::new();
        write_frame(&mut wire, &reply).unwrap();
        let reply: HelloReply = read_frame(&mut Cursor::new(wire)).unwrap().unwrap();
        match (reply.accept(client), refusal) {
            (Ok(w), None) => assert_eq!(
                w,
                Welcome {
                    protocol: daemon,
                    server: "9.9.9".into(),
                    pid: 4242
                },
                "{case}"
            ),
            (Err(ProtoError::Refused { reason }), Some(words)) => {
                assert!(reason.starts_with(words), "{case}: {reason}");
                assert!(reason.contains("pid 4242"), "{case}: {reason}");
            }
            (other, _) => panic!("{case}: {other:?}"),
        }
    }
}

#[test]
fn incompatible_errors_word_it_the_same_from_both_sides() {
    let daemon_side = hello(V1_0).check(V2_0).unwrap_err();
    assert!(matches!(
        daemon_side,
        ProtoError::Incompatible {
            we_are: Side::Daemon,
            ..
        }
    ));
    assert_eq!(
        daemon_side.to_string(),
        "the daemon speaks protocol 2.x, this client 1.x: upgrade baton"
    );

    // A daemon that welcomed a client it should have refused.
    let welcome = HelloReply::Welcome(Welcome {
        protocol: V2_0,
        server: "2.0.0".into(),
        pid: 1,
    });
    let client_side = welcome.accept(V1_0).unwrap_err();
    assert!(matches!(
        client_side,
        ProtoError::Incompatible {
            we_are: Side::Client,
            ..
        }
    ));
    assert_eq!(client_side.to_string(), daemon_side.to_string());

    let older_daemon = HelloReply::Welcome(Welcome {
        protocol: V1_0,
        server: "0.1.0".into(),
        pid: 1,
    })
    .accept(V2_0)
    .unwrap_err();
    assert!(
        older_daemon.to_string().contains("the daemon is older"),
        "{older_daemon}"
    );
}

#[test]
fn a_hello_from_a_future_major_still_decodes() {
    // The hello shape is frozen; extra fields a future client adds are ignored.
    let body = br#"{"protocol":{"major":7,"minor":2},"client":"7.2.0","compression":"zstd"}"#;
    let mut wire = (body.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(body);
    let h: Hello = read_frame(&mut Cursor::new(wire)).unwrap().unwrap();
    assert_eq!(h.protocol, Version::new(7, 2));
    assert!(matches!(
        h.answer(PROTOCOL, "0.1.0", 1),
        HelloReply::Refused(_)
    ));
}

#[test]
fn a_spawn_is_not_sent_to_a_daemon_that_would_skip_what_it_does_not_know() {
    use baton_proto::request::{Spawn, Via};
    use baton_proto::{Request, SpawnCommand, SpawnSpec, SpawnWorktree};
    let spawn = |worktree: Option<SpawnWorktree>| {
        Request::Spawn(Box::new(Spawn {
            spec: SpawnSpec {
                command: Some(SpawnCommand::Argv(vec!["true".into()])),
                worktree,
                ..SpawnSpec::default()
            },
            origin: None,
            via: Via::Cli,
        }))
    };
    let with = spawn(Some(SpawnWorktree::default()));
    let refused = with.check_peer(Version::new(1, 2)).unwrap_err().to_string();
    assert_eq!(
        refused,
        "the daemon speaks protocol 1.2, which has no spawn specs written as [[session]] \
         tables (protocol 1.3); restart it with this baton (`baton shutdown`, then start it again)"
    );
    assert!(with.check_peer(Version::new(1, 3)).is_ok());
    assert!(spawn(None).check_peer(Version::new(1, 2)).is_err());
    let ps = Request::Ps(baton_proto::request::Ps { capability: None });
    assert!(ps.check_peer(Version::new(1, 0)).is_ok());
}
