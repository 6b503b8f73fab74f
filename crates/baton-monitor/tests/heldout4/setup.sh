#!/bin/bash
# Scratch state for the v4 captures (run once, as root, on Debian 12).
set -e
cd /tmp/cap4
rm -rf s && mkdir s && cd s
pip install -q --no-cache-dir --target /tmp/cap4/py questionary inquirer rich cookiecutter >/dev/null 2>&1
echo hello > f.txt
ssh-keygen -q -t ed25519 -N '' -f ./plain
ssh-keygen -q -t ed25519 -N 'a secret' -f ./locked
(cd /tmp/cap4/s && zip -q -P pw enc.zip f.txt && mkdir -p unz)
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=example.test -keyout k.pem -out c.pem 2>/dev/null
git init -q repo && cd repo && git config user.email t@e && git config user.name T
printf 'a\nb\nc\n' > f.txt && printf 'x\n' > g.txt && git add . && git commit -qm one && printf 'a\nB\nc\n' > f.txt && echo y >> g.txt
cd .. && mkdir -p tpl/'{{cookiecutter.project_slug}}' && cat > tpl/cookiecutter.json <<'J'
{"project_name": "My Project", "project_slug": "{{ cookiecutter.project_name.lower().replace(' ', '-') }}", "license": ["MIT", "BSD-3", "GPL-3.0"]}
J
touch 'tpl/{{cookiecutter.project_slug}}/README.md'
printf 'line one\nline two\n' > a.txt; printf 'line one\nline 2\n' > b.txt
cargo new -q --vcs none lint && cd lint && printf 'fn main() {\n    let x = 5;\n    let v = vec![1, 2];\n    if v.len() == 0 { println!("empty"); }\n}\n' > src/main.rs
cd .. && echo ok
