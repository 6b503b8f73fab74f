//! Sessions and the account broker: leases, rotation on rate limits,
//! waiting for an account, shared state across conductors, credentials.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use baton_config::{AccountMode, AccountSpec, AccountsConfig, AgentKind, SessionSpec, Tier};
use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use common::*;

fn env_account(id: &str, tier: Tier) -> AccountSpec {
    AccountSpec {
        id: id.into(),
        provider: AgentKind::Codex,
        mode: AccountMode::Env,
        profile: None,
        env: BTreeMap::from([("ACCOUNT_NAME".to_string(), id.to_string())]),
        auth_file: None,
        host: None,
        tier,
    }
}

fn accounts(state_dir: &Path, list: Vec<AccountSpec>) -> AccountsConfig {
    AccountsConfig {
        auth_dir: state_dir.join("auth"),
        state_dir: state_dir.to_owned(),
        cooldown: Duration::from_secs(60),
        accounts: list,
        ..AccountsConfig::default()
    }
}

/// A codex session whose "codex" is the stand-in agent running `steps`
/// (given as the prompt, one step per line).
fn codex(name: &str, steps: &[&str]) -> SessionSpec {
    let mut spec = SessionSpec::command(id(name), vec![]);
    spec.agent = AgentKind::Codex;
    spec.command = None;
    spec.prompt = Some(steps.join("\n"));
    spec
}

fn codex_harness(tweak: impl FnOnce(&mut baton_core::ConductorOptions)) -> Harness {
    Harness::new(|o| {
        o.agents.codex.bin = Some(stand_in().display().to_string());
        o.probe.stall_after = Duration::from_secs(30);
        tweak(o);
    })
}

fn leased_accounts(h: &Harness, sid: &str) -> Vec<String> {
    h.session_records(sid)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Lease { account, .. } => Some(account),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_cools_the_account_and_the_restart_uses_another() {
    let state = tempfile::tempdir().unwrap();
    let h = codex_harness(|o| {
        o.accounts = accounts(
            state.path(),
            vec![env_account("a", Tier::Pro), env_account("b", Tier::Plus)],
        );
    });
    h.spawn(codex(
        "rl",
        &[
            "env:ACCOUNT_NAME",
            "env:BATON_ACCOUNT",
            "fail-before-attempt:2:Error: 429 Too Many Requests, try again in 2h 13m",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("rl").await, Completed);
    assert_eq!(leased_accounts(&h, "rl"), vec!["a", "b"]);
    let out = String::from_utf8(h.out_log("rl")).unwrap();
    assert_eq!(
        out,
        "ACCOUNT_NAME=a\nBATON_ACCOUNT=a\nACCOUNT_NAME=b\nBATON_ACCOUNT=b\n"
    );
    let cooldown = h
        .wait_for("cooldown", |r| matches!(r.event, Event::Cooldown { .. }))
        .await;
    let Event::Cooldown {
        account, seconds, ..
    } = &cooldown.event
    else {
        unreachable!()
    };
    assert_eq!(account, "a");
    // The reset time parsed from the output, not the 60 s default.
    assert!(
        (2 * 3600 + 13 * 60 - 5..=2 * 3600 + 13 * 60).contains(seconds),
        "{seconds}"
    );
    let fallback = h
        .wait_for("tier_fallback", |r| {
            matches!(r.event, Event::TierFallback { .. })
        })
        .await;
    assert!(matches!(&fallback.event, Event::TierFallback { account, .. } if account == "b"));
    h.wait_for(
        "final release",
        |r| matches!(&r.event, Event::Release { outcome, .. } if outcome == "success"),
    )
    .await;
    let releases: Vec<String> = h
        .session_records("rl")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Release { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(releases, vec!["rate_limited", "success"]);
    // No env value reaches the log; the key does.
    let records = h.finish().await;
    let text: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert!(text.contains("ACCOUNT_NAME") && !text.contains("ACCOUNT_NAME=a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_waits_for_a_busy_account_then_starts_by_itself() {
    let state = tempfile::tempdir().unwrap();
    let h = codex_harness(|o| {
        o.accounts = accounts(state.path(), vec![env_account("only", Tier::Unknown)])
    });
    h.spawn(codex("first", &["print:working", "sleep:400ms"]))
        .await;
    h.wait_state("first", Healthy).await;
    h.spawn(codex("second", &["print:my turn"])).await;
    let wait = h
        .wait_for("no_lease", |r| {
            r.session.as_deref() == Some("second") && matches!(r.event, Event::NoLease { .. })
        })
        .await;
    assert!(matches!(&wait.event, Event::NoLease { provider, eta: None } if provider == "codex"));
    let snap = h.conductor.snapshot().await.unwrap();
    let second = snap.iter().find(|s| s.id == "second").unwrap();
    assert_eq!(
        (second.state, second.reason.as_str()),
        (Init, "waiting_for_account")
    );
    assert_eq!(h.wait_terminal("first").await, Completed);
    assert_eq!(h.wait_terminal("second").await, Completed);
    assert_eq!(
        h.path_of("second"),
        vec![Init, Starting, Healthy, Completed]
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_account_cools_down_the_restart_waits_for_the_reset() {
    let state = tempfile::tempdir().unwrap();
    let h = codex_harness(|o| {
        o.accounts = accounts(state.path(), vec![env_account("solo", Tier::Pro)])
    });
    let t0 = Instant::now();
    h.spawn(codex(
        "cool",
        &[
            "print:x",
            "fail-before-attempt:2:rate limit reached, retry after 2 seconds",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("cool").await, Completed);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "restarted before the reset: {took:?}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(
        h.records()
            .iter()
            .any(|r| matches!(&r.event, Event::NoLease { eta: Some(_), .. }))
    );
    assert_eq!(leased_accounts(&h, "cool"), vec!["solo", "solo"]);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_conductors_sharing_the_state_never_hold_one_account_twice() {
    let state = tempfile::tempdir().unwrap();
    let markers = tempfile::tempdir().unwrap();
    let list = vec![env_account("x", Tier::Pro), env_account("y", Tier::Pro)];
    let cfg = accounts(state.path(), list);
    let h1 = codex_harness(|o| o.accounts = cfg.clone());
    let h2 = codex_harness(|o| o.accounts = cfg.clone());
    let hold = format!("hold:{}:60ms", markers.path().display());
    let mut names = Vec::new();
    for i in 0..8 {
        let (h, name) = if i % 2 == 0 {
            (&h1, format!("a{i}"))
        } else {
            (&h2, format!("b{i}"))
        };
        let mut spec = codex(&name, &[hold.as_str()]);
        spec.max_restarts = Some(0);
        h.spawn(spec).await;
        names.push(name);
    }
    for (i, name) in names.iter().enumerate() {
        let h = if i % 2 == 0 { &h1 } else { &h2 };
        let end = h.wait_terminal(name).await;
        assert_eq!(
            end,
            Completed,
            "{name}: a double lease (exit 9) or other failure:\n{}",
            h.dump()
        );
    }
    h1.finish().await;
    h2.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_conductor_remembers_cooldowns() {
    let state = tempfile::tempdir().unwrap();
    let cfg = accounts(
        state.path(),
        vec![
            env_account("hot", Tier::Pro),
            env_account("cold", Tier::Free),
        ],
    );
    let h = codex_harness(|o| o.accounts = cfg.clone());
    let mut spec = codex("limited", &["print:x", "rate-limit"]);
    spec.max_restarts = Some(0);
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("limited").await, Dead);
    h.finish().await;

    let h = codex_harness(|o| o.accounts = cfg);
    h.spawn(codex("later", &["env:BATON_ACCOUNT"])).await;
    assert_eq!(h.wait_terminal("later").await, Completed);
    assert_eq!(h.out_log("later"), b"BATON_ACCOUNT=cold\n");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_env_reference_kills_the_session_with_a_message_and_no_value() {
    let state = tempfile::tempdir().unwrap();
    let mut acct = env_account("needs-var", Tier::Pro);
    acct.env
        .insert("API_KEY".into(), "$BATON_TEST_SURELY_UNSET_VAR".into());
    let h = codex_harness(|o| o.accounts = accounts(state.path(), vec![acct]));
    h.spawn(codex("nokey", &["print:x"])).await;
    assert_eq!(h.wait_terminal("nokey").await, Dead);
    let (missing, message) = h
        .session_records("nokey")
        .into_iter()
        .find_map(|r| match r.event {
            Event::SpawnError { missing, message } => Some((missing, message)),
            _ => None,
        })
        .unwrap();
    assert_eq!(missing, "account");
    assert!(message.contains("BATON_TEST_SURELY_UNSET_VAR"), "{message}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_mode_uses_a_private_codex_home_and_refuses_escapes() {
    // nextest runs every test in its own process, so pointing HOME at a
    // temporary home here affects no other test.
    let home = tempfile::tempdir().unwrap();
    let user_codex = home.path().join(".codex");
    std::fs::create_dir_all(&user_codex).unwrap();
    std::fs::write(user_codex.join("auth.json"), b"USER'S OWN").unwrap();
    std::fs::write(user_codex.join("config.toml"), b"model = \"o3\"\n").unwrap();
    let before = std::fs::metadata(user_codex.join("auth.json"))
        .unwrap()
        .modified()
        .unwrap();
    // SAFETY: single-threaded at this point of the test process; see above.
    unsafe { std::env::set_var("HOME", home.path()) };

    let state = tempfile::tempdir().unwrap();
    let auth = state.path().join("auth");
    std::fs::create_dir_all(&auth).unwrap();
    std::fs::write(auth.join("good.json"), b"{\"token\":\"good\"}").unwrap();
    std::fs::write(state.path().join("outside.json"), b"{\"token\":\"stolen\"}").unwrap();
    std::os::unix::fs::symlink(state.path().join("outside.json"), auth.join("link.json")).unwrap();
    let auth_account = |id: &str, file: &str, tier| AccountSpec {
        mode: AccountMode::Auth,
        env: BTreeMap::new(),
        auth_file: Some(file.into()),
        ..env_account(id, tier)
    };
    let h = codex_harness(|o| {
        o.accounts = accounts(
            state.path(),
            vec![
                auth_account("traversal", "../outside.json", Tier::Pro),
                auth_account("symlink", "link.json", Tier::Pro),
                auth_account("good", "good.json", Tier::Free),
            ],
        )
    });
    h.spawn(codex("authed", &["env:CODEX_HOME", "env:BATON_ACCOUNT"]))
        .await;
    assert_eq!(h.wait_terminal("authed").await, Completed);
    let out = String::from_utf8(h.out_log("authed")).unwrap();
    assert!(out.ends_with("BATON_ACCOUNT=good\n"), "{out}");
    let codex_home = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("CODEX_HOME=")
        .unwrap()
        .to_owned();
    assert!(
        codex_home.starts_with(&state.path().display().to_string()),
        "{codex_home}"
    );
    let refused: Vec<String> = h
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Security { account, .. } => Some(account),
            _ => None,
        })
        .collect();
    assert!(
        refused.contains(&"traversal".to_string()) && refused.contains(&"symlink".to_string()),
        "{refused:?}"
    );
    h.wait_for("release", |r| matches!(r.event, Event::Release { .. }))
        .await;
    h.finish().await;
    // The private directory is gone after release; the user's files are untouched.
    assert!(!Path::new(&codex_home).exists(), "lease dir left behind");
    assert_eq!(
        std::fs::read(user_codex.join("auth.json")).unwrap(),
        b"USER'S OWN"
    );
    assert_eq!(
        std::fs::metadata(user_codex.join("auth.json"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_crashes_open_the_circuit_and_the_session_waits() {
    let state = tempfile::tempdir().unwrap();
    let h = codex_harness(|o| {
        o.accounts = accounts(state.path(), vec![env_account("flaky", Tier::Pro)]);
        o.conductor.max_restarts = 5;
    });
    h.spawn(codex("crashing", &["print:x", "exit:1"])).await;
    let opened = h
        .wait_for(
            "circuit open",
            |r| matches!(&r.event, Event::Circuit { to, .. } if to == "open"),
        )
        .await;
    assert!(
        matches!(&opened.event, Event::Circuit { account, from, .. } if account == "flaky" && from == "closed")
    );
    let waiting = h
        .wait_for("no_lease with eta", |r| {
            matches!(&r.event, Event::NoLease { eta: Some(_), .. })
        })
        .await;
    assert_eq!(waiting.session.as_deref(), Some("crashing"));
    assert_eq!(
        leased_accounts(&h, "crashing").len(),
        3,
        "three failures, then no lease"
    );
    let snap = h.conductor.snapshot().await.unwrap();
    assert_eq!(snap[0].state, Restarting);
    h.conductor.kill(&id("crashing")).await.unwrap();
    assert_eq!(h.wait_terminal("crashing").await, Dead);
    h.finish().await;
}
