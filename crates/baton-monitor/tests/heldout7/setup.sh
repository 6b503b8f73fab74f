#!/bin/bash
# Scratch state for the v7 captures (run once, as root, on Debian 12).
# Debian: fzf whiptail dialog fdisk parted cron cryptsetup-bin gh lua5.4 zstd gdb;
# Python packages into /tmp/cap7/py (django twine flit beaupy pytest ruff ansible-core).
set -e
cd /tmp/cap7
rm -rf s home && mkdir s home && cd s
echo hello > f.txt && zstd -q f.txt && seq 1 400 > long.txt
dd if=/dev/zero of=disk.img bs=1M count=8 status=none && parted -s disk.img mklabel msdos
dd if=/dev/zero of=luks.img bs=1M count=20 status=none
export PYTHONPATH=/tmp/cap7/py PATH=/tmp/cap7/py/bin:$PATH
django-admin startproject site1 && (cd site1 && python3 manage.py migrate -v 0)
mkdir flitp && printf '"""x"""\n__version__ = "0.1"\n' > flitp/pkgx.py
mkdir tests && printf 'def test_total():\n    assert sum([1, 2]) == 4\n\ndef test_ok():\n    assert True\n' > tests/test_math.py
printf 'import os, sys\n\ndef f( x ):\n    return x==None\n' > lintme.py
printf 'const test = require("node:test");\nconst assert = require("node:assert");\ntest("adds", () => assert.strictEqual(1 + 1, 3));\ntest("ok", () => {});\n' > t.test.js
cp "$(command -v rustup)" ./rustup-init
git init -q repo && cd repo && git config user.email t@e && git config user.name T
echo one > f && git add f && git commit -qm one && git branch feature && echo two >> f && git commit -qam two && cd ..
GNUPGHOME=/tmp/cap7/home/gnupg && mkdir -m 700 -p $GNUPGHOME && export GNUPGHOME
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key 'Cap Seven <c7@example.com>' ed25519 sign never 2>/dev/null
mkdir -p npm1 npm2 npm3 npm4 npm5 npm6 npm7 npm8
cargo new -q --vcs none cbuild && (cd cbuild && cargo add -q itoa@1 2>/dev/null)
echo ok
