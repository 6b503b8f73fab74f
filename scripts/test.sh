#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v git >/dev/null || need+=(git)
command -v tmux >/dev/null || need+=(tmux)       # backend = "tmux" tests
command -v script >/dev/null || need+=(util-linux) # live-view test on a pty
# Remote sessions are tested against a real sshd, on loopback and inside
# network namespaces (see crates/baton-core/tests/common/sshd.rs).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)    # silent link cuts
command -v npm >/dev/null || need+=(npm)         # the MCP Inspector CLI, puppeteer-core
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi
# A real browser for baton web's page (crates/baton/tests/web.rs), on its
# own: a browser that cannot be installed here leaves that one test saying
# so, not the whole suite undone.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } \
    || echo "scripts/test.sh: could not install chromium; the browser test will say so" >&2
fi
if [ "$(id -u)" = 0 ]; then
  # A root sshd refuses to start without its privilege separation directory.
  # (The package's own sshd is not started: nothing listens on port 22.)
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  # Fake hosts live in 10.200.0.0/16 behind this route, so that a downed
  # test link never sends their packets out by the default route. It is
  # left in place: other runs may be using it, and it routes nothing else.
  ip route add unreachable 10.200.0.0/16 2>/dev/null || true
  # Namespaces a killed test run left behind (named btt<IDX>). A test holds
  # a lock on <tmpdir>/baton-netns/<IDX>.lock while it uses its namespace,
  # so one that is locked belongs to a live run and is left alone.
  sweep_test_namespaces() {
    local n p lock
    for n in $(ip netns list 2>/dev/null | awk '/^btt/ {print $1}'); do
      lock="${TMPDIR:-/tmp}/baton-netns/${n#btt}.lock"
      if [ -e "$lock" ] && ! flock -n "$lock" true; then continue; fi
      for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$n" 2>/dev/null || true
    done
  }
  sweep_test_namespaces
  trap sweep_test_namespaces EXIT
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# The MCP Inspector's CLI, pinned: a second real MCP client, one that types
# tool arguments by the advertised schemas (crates/baton/tests/mcp.rs).
inspector_version=2.12.0
inspector_dir="$PWD/target/test-tools/mcp-inspector-$inspector_version"
if [ ! -x "$inspector_dir/node_modules/.bin/mcp-inspector" ]; then
  mkdir -p "$inspector_dir"
  npm install --prefix "$inspector_dir" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/inspector@$inspector_version"
fi
export BATON_TEST_MCP_INSPECTOR="$inspector_dir/node_modules/.bin/mcp-inspector"

# puppeteer-core, pinned (no browser download: it drives Debian's
# chromium), for baton web's page in a real headless browser
# (crates/baton/tests/web.rs).
puppeteer_version=24.43.1
puppeteer_dir="$PWD/target/test-tools/puppeteer-core-$puppeteer_version"
if [ ! -d "$puppeteer_dir/node_modules/puppeteer-core" ]; then
  mkdir -p "$puppeteer_dir"
  npm install --prefix "$puppeteer_dir" --no-audit --no-fund --loglevel=error \
    "puppeteer-core@$puppeteer_version"
fi
export BATON_TEST_PUPPETEER="$puppeteer_dir"
if command -v chromium >/dev/null; then
  BATON_TEST_CHROMIUM="$(command -v chromium)"
  export BATON_TEST_CHROMIUM
else
  export BATON_TEST_CHROMIUM_MISSING="chromium could not be installed (see scripts/test.sh's output)"
fi

# The real agent CLIs, pinned here and nowhere else: the tests run them
# offline with an empty HOME, as a new user meets them
# (crates/baton-core/tests/agents.rs). About 760 MB, so they live in a cache
# outside the repo and are reused between runs.
claude_version=2.1.197
gemini_version=0.61.0
codex_version=0.171.0
clis_dir="${BATON_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/baton-test}/agent-clis-claude$claude_version-gemini$gemini_version-codex$codex_version"
if [ ! -x "$clis_dir/node_modules/.bin/claude" ] || [ ! -x "$clis_dir/node_modules/.bin/gemini" ] \
  || [ ! -x "$clis_dir/node_modules/.bin/codex" ]; then
  mkdir -p "$clis_dir"
  npm install --prefix "$clis_dir" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$claude_version" "@google/gemini-cli@$gemini_version" \
    "@openai/codex@$codex_version"
fi
export BATON_TEST_AGENT_CLIS="$clis_dir/node_modules/.bin"

# Integration tests start the workspace's binaries (baton, stand-in-agent):
# build every target first so none of them is stale.
cargo build --workspace --all-targets --locked
cargo nextest run --workspace --profile ci --locked
cargo test --workspace --doc --locked
# Clients do not compile the engine: neither the protocol crate nor the
# client-only binary (`--no-default-features`) depends on baton-core.
cargo check -p baton --no-default-features --locked
# The protocol crate owns the wire form: it depends on no other baton crate,
# so nothing outside it can change what goes on the wire.
if cargo tree --locked -e normal --prefix none -p baton-proto | grep '^baton-' | grep -vq '^baton-proto '; then
  echo "scripts/test.sh: baton-proto depends on another baton crate" >&2
  exit 1
fi
for crate in "baton-proto" "baton --no-default-features"; do
  # shellcheck disable=SC2086 # $crate holds a crate name and its flags
  if cargo tree --locked -e normal --prefix none -p $crate | grep -q '^baton-core '; then
    echo "scripts/test.sh: $crate depends on baton-core" >&2
    exit 1
  fi
done
