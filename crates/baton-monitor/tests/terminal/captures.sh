#!/bin/bash
# captures.sh CLIS OUT: the agent CLIs' screens after a turn, captured against
# the stand-in provider on loopback (offline, nothing typed). CLIS is the
# directory of the pinned CLIs (scripts/test.sh names it in
# BATON_TEST_AGENT_CLIS); build the workspace first (target/debug/).
set -euo pipefail
clis=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
capture="$here/../heldout7/capture.py"
scratch=$(mktemp -d /tmp/baton-terminal-captures.XXXXXX)
mkdir -p "$out"
"$root/target/debug/stand-in-provider" >"$scratch/url" &
provider=$!
trap 'kill $provider; rm -rf "$scratch"' EXIT
while [ ! -s "$scratch/url" ]; do sleep 0.1; done
url=$(cat "$scratch/url")

# Each CLI in a HOME where its first-run questions are answered and in a
# work folder it trusts.
home=$scratch/home work=$scratch/work
mkdir -p "$home/.gemini" "$home/.codex" "$work"
cat >"$home/.claude.json" <<JSON
{"hasCompletedOnboarding": true, "customApiKeyResponses": {"approved": ["stand-in-key"], "rejected": []},
 "projects": {"$work": {"hasTrustDialogAccepted": true}}}
JSON
echo '{"security": {"auth": {"selectedType": "gemini-api-key"}}}' >"$home/.gemini/settings.json"
echo "{\"$work\": \"TRUST_FOLDER\"}" >"$home/.gemini/trustedFolders.json"
cat >"$home/.codex/config.toml" <<TOML
model_provider = "stand-in"

[model_providers.stand-in]
name = "stand-in"
base_url = "$url/v1"
env_key = "STAND_IN_KEY"
wire_api = "responses"

[projects."$work"]
trust_level = "trusted"
TOML
export HOME=$home STAND_IN_KEY=stand-in-key
export ANTHROPIC_BASE_URL=$url ANTHROPIC_API_KEY=stand-in-key CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
export GOOGLE_GEMINI_BASE_URL=$url GEMINI_API_KEY=stand-in-key
cap() { name=$1 secs=$2; shift 2; (cd "$work" && python3 "$capture" "$out/$name.txt" "$secs" "$@"); }

cap wait-claude-permission-dialog 12 "$clis/claude" "run: touch made.txt"
cap wait-claude-asks-a-question 12 "$clis/claude" "ask: Which database should the app use? | Postgres | SQLite"
cap busy-claude-idle-after-a-turn 12 "$clis/claude" "say: all done"
cap wait-gemini-permission-dialog 14 "$clis/gemini" --prompt-interactive "run: touch made.txt"
cap busy-gemini-idle-after-a-turn 14 "$clis/gemini" --prompt-interactive "say: all done"
cap busy-codex-idle-after-a-turn 14 "$clis/codex" "say: all done"
