//! Gemini CLI (`@google/gemini-cli`), headless: `gemini --prompt=P`.
//!
//! `--skip-trust` trusts the session's workdir for this run: in a folder
//! it does not trust, gemini 0.61 turns `--yolo` back into asking for
//! approval (which nobody answers headless) or refuses to run at all
//! (exit 55). Without an auth method it exits 41 ("Please set an Auth
//! method in …/settings.json or specify one of the following environment
//! variables …: GEMINI_API_KEY, …").

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

use crate::{Agent, EndClass, Ended, bin, line_with, prompt, unknown_flag};

/// gemini's exit code for a missing or rejected auth method.
const EXIT_AUTH: i32 = 41;
/// gemini's exit code for a headless run in a folder it does not trust.
const EXIT_UNTRUSTED: i32 = 55;

/// Gemini CLI.
pub struct Gemini;

impl Agent for Gemini {
    fn kind(&self) -> AgentKind {
        AgentKind::Gemini
    }

    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(model) = &spec.model {
            argv.push(format!("--model={model}"));
        }
        argv.extend(["--yolo", "--skip-trust", "--output-format", "text"].map(str::to_owned));
        argv.push(format!("--prompt={}", prompt(spec)));
        argv
    }

    fn ended(&self, exit_code: Option<i32>, output: &[u8]) -> Option<Ended> {
        // yargs, as 0.61 prints it: "Unknown arguments: x, y" (exit 1).
        if exit_code != Some(0)
            && let Some(refused) = unknown_flag(output, &["Unknown argument"], "@google/gemini-cli")
        {
            return Some(refused);
        }
        let (class, needles, said): (_, &[&str], _) = match exit_code? {
            EXIT_AUTH => (
                EndClass::AuthRequired,
                &["Auth method", "GEMINI_API_KEY", "API key"],
                "gemini exited 41: no auth method (set GEMINI_API_KEY or log in)",
            ),
            EXIT_UNTRUSTED => (
                EndClass::UntrustedFolder,
                &["trust"],
                "gemini exited 55: the folder is not trusted (run with --skip-trust)",
            ),
            _ => return None,
        };
        Some(Ended {
            class,
            evidence: line_with(output, needles).unwrap_or_else(|| said.to_owned()),
        })
    }
}
