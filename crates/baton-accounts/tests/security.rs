//! `auth` mode: the source must resolve inside the auth directory, the copy
//! is private, and the user's home is never written.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use baton_accounts::Outcome;
use baton_config::{AgentKind, Tier};
use common::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn auth_files_resolving_outside_the_auth_dir_are_refused() {
    let outside_name = "outside.json";
    // (what the config says, how the fixture sets it up)
    // Each setup returns the configured `auth_file`.
    type Setup = fn(&Path) -> PathBuf;
    let cases: Vec<(&str, Setup)> = vec![
        ("dot-dot", |_| PathBuf::from("../outside.json")),
        ("absolute", |root| root.join("outside.json")),
        ("symlink out", |root| {
            symlink(root.join("outside.json"), root.join("auth/link.json")).expect("symlink");
            PathBuf::from("link.json")
        }),
        ("symlinked subdir", |root| {
            symlink(root, root.join("auth/up")).expect("symlink");
            PathBuf::from("up/outside.json")
        }),
    ];
    for (name, setup) in cases {
        let f = Fixture::new(vec![]);
        std::fs::write(f.path().join(outside_name), b"stolen").expect("outside file");
        std::fs::write(f.path().join("auth/good.json"), b"good").expect("good file");
        let file = setup(f.path());
        let mut bad = auth(AgentKind::Codex, "bad", file);
        bad.tier = Tier::Pro;
        let good = auth(AgentKind::Codex, "good", "good.json");
        let broker = open(
            f.path(),
            vec![bad, good],
            &f.clock,
            baton_accounts::Owner::current(),
        );
        let outcome = broker.lease(AgentKind::Codex, "s", None).expect("lease");
        assert_eq!(outcome.security.len(), 1, "{name}");
        let v = &outcome.security[0];
        assert_eq!(v.account, "codex/bad", "{name}");
        assert!(
            v.reason.contains("outside the auth directory"),
            "{name}: {}",
            v.reason
        );
        assert!(!v.reason.contains("stolen"));
        let lease = outcome.lease.expect("the next eligible account");
        assert_eq!(lease.account, "good", "{name}");
        assert!(lease.tier_fallback, "{name}: pro was refused");
        let dir = lease.credentials.private_dir.clone().expect("dir");
        assert_eq!(std::fs::read(dir.join("auth.json")).expect("copy"), b"good");
        // Refused again, never leased, even when it is the only one left.
        let outcome = broker.lease(AgentKind::Codex, "t", None).expect("lease");
        assert!(outcome.lease.is_none(), "{name}");
        assert_eq!(outcome.security.len(), 1, "{name}");
        let status = broker.status().expect("status");
        assert_eq!(status.accounts[0].total_leases, 0, "{name}");
    }
}

#[test]
fn a_symlink_inside_pointing_inside_is_fine() {
    let f = Fixture::new(vec![]);
    std::fs::create_dir_all(f.path().join("auth/real")).expect("dir");
    std::fs::write(f.path().join("auth/real/creds.json"), b"inside").expect("file");
    symlink("real/creds.json", f.path().join("auth/alias.json")).expect("symlink");
    let broker = open(
        f.path(),
        vec![auth(AgentKind::Claude, "c", "alias.json")],
        &f.clock,
        baton_accounts::Owner::current(),
    );
    let outcome = broker.lease(AgentKind::Claude, "s", None).expect("lease");
    assert!(outcome.security.is_empty());
    let lease = outcome.lease.expect("leased");
    let dir = lease.credentials.private_dir.clone().expect("dir");
    assert_eq!(
        std::fs::read(dir.join(".credentials.json")).expect("copy"),
        b"inside"
    );
}

#[test]
fn an_auth_dir_reached_through_a_symlink_still_works() {
    let f = Fixture::new(vec![]);
    std::fs::write(f.path().join("auth/a.json"), b"x").expect("file");
    symlink(f.path().join("auth"), f.path().join("auth-link")).expect("symlink");
    let mut cfg = config(f.path(), vec![auth(AgentKind::Codex, "a", "a.json")]);
    cfg.auth_dir = f.path().join("auth-link");
    let broker = baton_accounts::Broker::open(
        cfg,
        std::sync::Arc::new(f.clock.clone()),
        baton_accounts::BrokerOptions {
            home: f.path().join("home"),
            owner: baton_accounts::Owner::current(),
        },
    )
    .expect("open");
    let outcome = broker.lease(AgentKind::Codex, "s", None).expect("lease");
    assert!(outcome.security.is_empty());
    assert!(outcome.lease.is_some());
}

struct Snapshot {
    bytes: Vec<u8>,
    mtime: (i64, i64),
    ino: u64,
}

fn snapshot(path: &Path) -> Snapshot {
    let meta = std::fs::metadata(path).expect("metadata");
    Snapshot {
        bytes: std::fs::read(path).expect("read"),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ino: meta.ino(),
    }
}

#[test]
fn private_dirs_per_provider_and_the_home_untouched() {
    // (provider, var, credentials file in the dir, user's settings, its copy)
    let table = [
        (
            AgentKind::Codex,
            "CODEX_HOME",
            "auth.json",
            ".codex/config.toml",
            "config.toml",
        ),
        (
            AgentKind::Claude,
            "CLAUDE_CONFIG_DIR",
            ".credentials.json",
            ".claude/settings.json",
            "settings.json",
        ),
        (
            AgentKind::Gemini,
            "HOME",
            ".gemini/oauth_creds.json",
            ".gemini/settings.json",
            ".gemini/settings.json",
        ),
    ];
    for (provider, var, creds, settings, copy) in table {
        let f = Fixture::new(vec![]);
        let home = f.path().join("home");
        // The user's own credentials and settings, which must survive byte for byte.
        let own: Vec<PathBuf> = [
            ".codex/auth.json",
            ".codex/config.toml",
            ".claude/settings.json",
            ".claude/.credentials.json",
            ".gemini/oauth_creds.json",
            ".gemini/settings.json",
        ]
        .iter()
        .map(|p| home.join(p))
        .collect();
        for p in &own {
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(p, format!("user's own {}", p.display())).expect("write");
        }
        let before: Vec<Snapshot> = own.iter().map(|p| snapshot(p)).collect();
        let home_entries = |h: &Path| {
            let mut v: Vec<_> = walk(h);
            v.sort();
            v
        };
        let tree_before = home_entries(&home);

        std::fs::write(f.path().join("auth/acct.json"), b"{\"account\":\"secret\"}").expect("src");
        let broker = open(
            f.path(),
            vec![auth(provider, "acct", "acct.json")],
            &f.clock,
            baton_accounts::Owner::current(),
        );
        let lease = broker
            .lease(provider, "s", None)
            .expect("lease")
            .lease
            .expect("leased");
        let dir = lease.credentials.private_dir.clone().expect("dir");
        assert!(dir.starts_with(f.path().join("state/leases")), "{provider}");
        assert_eq!(
            lease.credentials.env,
            [(var.to_owned(), dir.to_str().expect("utf-8").to_owned())],
            "{provider}"
        );
        assert_eq!(mode(&dir), 0o700, "{provider}");
        let creds = dir.join(creds);
        assert_eq!(mode(&creds), 0o600, "{provider}");
        assert_eq!(
            std::fs::read(&creds).expect("creds"),
            b"{\"account\":\"secret\"}"
        );
        if let Some(parent) = creds.parent().filter(|p| *p != dir) {
            assert_eq!(mode(parent), 0o700, "{provider}");
        }
        let copy = dir.join(copy);
        assert_eq!(mode(&copy), 0o600, "{provider}");
        assert_eq!(
            std::fs::read(&copy).expect("copy"),
            std::fs::read(home.join(settings)).expect("settings")
        );
        // Debug and the state file never show the content.
        assert!(!format!("{lease:?}").contains("secret"));
        let state = std::fs::read_to_string(f.path().join("state/accounts.json")).expect("state");
        assert!(!state.contains("secret"));

        broker.release(&lease, Outcome::Success).expect("release");
        assert!(!dir.exists(), "{provider}: removed on release");
        for (p, b) in own.iter().zip(&before) {
            let a = snapshot(p);
            assert_eq!(a.bytes, b.bytes, "{}", p.display());
            assert_eq!(a.mtime, b.mtime, "{}", p.display());
            assert_eq!(a.ino, b.ino, "{}", p.display());
        }
        assert_eq!(
            home_entries(&home),
            tree_before,
            "{provider}: nothing new in home"
        );
    }
}

#[test]
fn a_missing_settings_file_is_simply_not_copied() {
    let f = Fixture::new(vec![]);
    std::fs::write(f.path().join("auth/a.json"), b"x").expect("src");
    let broker = open(
        f.path(),
        vec![auth(AgentKind::Codex, "a", "a.json")],
        &f.clock,
        baton_accounts::Owner::current(),
    );
    let lease = broker
        .lease(AgentKind::Codex, "s", None)
        .expect("lease")
        .lease
        .expect("leased");
    let dir = lease.credentials.private_dir.clone().expect("dir");
    let mut names: Vec<_> = walk(&dir);
    names.sort();
    assert_eq!(names, [dir.join("auth.json")]);
}

#[test]
fn a_missing_auth_file_is_an_error_naming_it() {
    let f = Fixture::new(vec![]);
    let broker = open(
        f.path(),
        vec![auth(AgentKind::Codex, "a", "absent.json")],
        &f.clock,
        baton_accounts::Owner::current(),
    );
    let err = broker
        .lease(AgentKind::Codex, "s", None)
        .expect_err("missing file");
    assert!(err.to_string().contains("absent.json"), "{err}");
    assert!(walk(&f.path().join("state/leases")).is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
