#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v git >/dev/null || need+=(git)
command -v tmux >/dev/null || need+=(tmux)       # backend = "tmux" tests
command -v script >/dev/null || need+=(util-linux) # live-view test on a pty
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 1
  fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi

# Integration tests start the workspace's binaries (baton, stand-in-agent):
# build every target first so none of them is stale.
cargo build --workspace --all-targets --locked
cargo nextest run --workspace --profile ci --locked
cargo test --workspace --doc --locked
