#!/bin/bash
# Scratch state for the v5 captures (run once, as root, on Debian 12).
set -e
cd /tmp/cap5
rm -rf s && mkdir s && cd s
pip install -q --no-cache-dir --target /tmp/cap5/py awscli poetry sphinx hatch tqdm rich questionary >/dev/null 2>&1
echo hello > f.txt
git init -q repo && cd repo && git config user.email t@e && git config user.name T
printf 'a\nb\nc\n' > f.txt && git add . && git commit -qm one && printf 'a\nB\nc\n' > f.txt && git add f.txt
cd .. && mkdir -p poetry-proj hatch-proj sphinx-proj yarn-proj && echo ok
