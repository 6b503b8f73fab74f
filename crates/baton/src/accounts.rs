//! `baton accounts`: the broker's shared state, as every conductor sees it.

use std::io::Write;
use std::sync::Arc;

use baton_accounts::{AccountStatus, Broker, BrokerOptions, BrokerStatus, SystemClock};
use baton_config::Manifest;

use crate::{AccountsArgs, exit};

pub fn main(args: AccountsArgs) -> i32 {
    let manifest = match Manifest::load(&args.manifest) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return exit::USAGE;
        }
    };
    if manifest.accounts.accounts.is_empty() {
        eprintln!(
            "baton: {} configures no accounts (add [[accounts.codex]] entries, see the README)",
            args.manifest.display()
        );
        return exit::USAGE;
    }
    let broker = match Broker::open(
        manifest.accounts.clone(),
        Arc::new(SystemClock),
        BrokerOptions::default(),
    ) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: account broker: {e}");
            return exit::SESSION_DEAD;
        }
    };
    let status = match broker.status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: account broker: {e}");
            return exit::SESSION_DEAD;
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        match serde_json::to_string_pretty(&status) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::SESSION_DEAD;
            }
        }
    } else {
        let _ = write!(out, "{}", render(&status, jiff::Timestamp::now()));
    }
    exit::OK
}

fn render(status: &BrokerStatus, now: jiff::Timestamp) -> String {
    let mut text = format!(
        "{:<8} {:<16} {:<8} {:<8} {:<26} {:>10} {:<22} {:>6} {:>6} {:>6}\n",
        "PROVIDER",
        "ID",
        "TIER",
        "MODE",
        "STATE",
        "COOLDOWN",
        "CIRCUIT",
        "LEASES",
        "FAILS",
        "LIMITS"
    );
    for a in &status.accounts {
        text.push_str(&row(a, now));
    }
    for (provider, eta) in &status.eta {
        let when = match eta {
            Some(t) if *t <= now => "now".to_owned(),
            Some(t) => format!("in {}", remaining(*t, now)),
            None => "when a session releases one (all busy)".to_owned(),
        };
        text.push_str(&format!("next free {provider} account: {when}\n"));
    }
    text
}

fn row(a: &AccountStatus, now: jiff::Timestamp) -> String {
    let state = match &a.busy {
        Some(b) => format!("busy ({})", b.session),
        None => "free".to_owned(),
    };
    let cooldown = match a.cooldown_until {
        Some(t) if t > now => remaining(t, now),
        _ => "-".to_owned(),
    };
    let circuit = match a.circuit_open_until {
        Some(t) if t > now => format!("{} ({} left)", a.circuit, remaining(t, now)),
        _ => a.circuit.to_string(),
    };
    format!(
        "{:<8} {:<16} {:<8} {:<8} {:<26} {:>10} {:<22} {:>6} {:>6} {:>6}\n",
        a.provider.to_string(),
        a.id,
        a.tier.as_str(),
        mode_name(a.mode),
        state,
        cooldown,
        circuit,
        a.total_leases,
        a.total_failures,
        a.total_rate_limits
    )
}

fn mode_name(mode: baton_config::AccountMode) -> &'static str {
    match mode {
        baton_config::AccountMode::Profile => "profile",
        baton_config::AccountMode::Env => "env",
        baton_config::AccountMode::Auth => "auth",
    }
}

/// "2h 13m", "4m 10s", "12s".
fn remaining(until: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let secs = (until.as_second() - now.as_second()).max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}
