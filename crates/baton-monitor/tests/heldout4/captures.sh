#!/bin/bash
# name seconds command... (run in /tmp/cap4/s after setup.sh; nothing typed)
cd /tmp/cap4/s
C=/tmp/cap4/capture.py
O=/tmp/cap4/out; mkdir -p $O
export PYTHONPATH=/tmp/cap4/py
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-chfn-full-name 2 chfn
cap wait-openssl-genrsa-pass-phrase 2 openssl genrsa -aes256 -out gen.pem 2048
cap wait-openssl-pkcs12-export-password 2 openssl pkcs12 -export -in c.pem -inkey k.pem -out p.p12
cap wait-ssh-keygen-new-passphrase 2 ssh-keygen -p -f ./plain
cap wait-ssh-add-passphrase 3 ssh-agent sh -c 'ssh-add ./locked'
cap wait-unzip-encrypted-password 2 unzip -d unz enc.zip
cap wait-gpg-symmetric-passphrase 3 gpg --homedir /tmp/cap4/gnupg --pinentry-mode loopback --symmetric f.txt
cap wait-psql-password 2 psql -W -h 127.0.0.1 -U root postgres
cap wait-su-password 2 runuser -u nobody -- su root
cap wait-git-add-interactive 2 git -C repo add -i
cap wait-git-difftool-launch 2 git -C repo difftool --tool=vimdiff
cap wait-update-alternatives-editor 2 update-alternatives --config editor
cap wait-cpan-first-run 6 env HOME=/tmp/cap4/cpanhome perl -MCPAN -e shell
cap wait-click-choice 2 python3 -c "import click; click.prompt('Log level', type=click.Choice(['debug', 'info', 'warn']), default='info')"
cap wait-rich-confirm 2 python3 -c "from rich.prompt import Confirm; Confirm.ask('Delete the build cache?')"
cap wait-rich-prompt-choices 2 python3 -c "from rich.prompt import Prompt; Prompt.ask('Target environment', choices=['staging', 'production'], default='staging')"
cap wait-questionary-select 3 python3 -c "import questionary; questionary.select('Pick a region', choices=['eu-west-1', 'us-east-1', 'ap-south-1']).ask()"
cap wait-questionary-text 3 python3 -c "import questionary; questionary.text('What is the service called?').ask()"
cap wait-python-inquirer-list 3 python3 -c "import inquirer; inquirer.prompt([inquirer.List('size', message='Which instance size?', choices=['small', 'medium', 'large'])])"
cap wait-cookiecutter-project-name 3 python3 -m cookiecutter --output-dir /tmp/cap4/cc tpl
cap wait-create-vue-project-name 15 npx --yes create-vue@latest
cap wait-create-next-app-name 20 npx --yes create-next-app@latest
cap wait-sv-create-directory 20 npx --yes sv create
cap wait-eslint-config-how 20 npm init --yes=false @eslint/config@latest
cap wait-vim-swap-attention 3 vim f.txt
# --- busy
cap busy-git-show-stat 2 git -C /work/main --no-pager show --stat HEAD~3
cap busy-git-blame 2 git -C /work/main --no-pager blame -L 1,30 Cargo.toml
cap busy-git-shortlog 2 sh -c "git -C /work/main shortlog -sn HEAD | head -20"
cap busy-git-count-objects 2 git -C /work/main count-objects -vH
cap busy-cargo-clippy-warnings 30 env -C lint cargo clippy
cap busy-cargo-fmt-check-diff 4 env -C lint cargo fmt --check
cap busy-rustup-show 3 rustup show
cap busy-npm-view-package 6 npm view left-pad
cap busy-npm-test-default 4 env -C /tmp/cap3/s/inq npm test
cap busy-pip-show 3 pip show pip
cap busy-pip-list 3 pip list
cap busy-python-timeit 4 python3 -m timeit "sum(range(1000))"
cap busy-python-input-docstring 2 python3 -c "print(input.__doc__)"
cap busy-openssl-ciphers 2 sh -c "openssl ciphers -v | head -25"
cap busy-ssh-config-dump 2 sh -c "ssh -G example.test | head -40"
cap busy-gpg-list-keys-empty 2 gpg --homedir /tmp/cap4/gnupg2 --list-keys
cap busy-dpkg-list 2 sh -c "dpkg -l | head -40"
cap busy-apt-show-git 3 apt-cache show git
cap busy-lscpu 2 lscpu
cap busy-free-uptime 2 sh -c "free -h; uptime"
cap busy-sqlite-table-output 2 sqlite3 -header -column :memory: "create table t(name, tries); insert into t values ('login', 3), ('checkout', 7); select * from t;"
cap busy-diff-unified 2 diff -u a.txt b.txt
cap busy-du-sorted 4 sh -c "du -h --max-depth=1 /usr 2>/dev/null | sort -h"
cap busy-curl-headers 4 curl -sI https://registry.npmjs.org/
cap busy-grep-prompt-strings-in-source 3 sh -c "grep -rn 'y/N\\]' /usr/lib/python3/dist-packages /usr/share/perl5 2>/dev/null | head -20"
cap busy-node-help 2 node --help
cap busy-zip-verbose 2 zip -v -r out.zip repo
# --- retaken or added in the same session, after the first run
# gpg's home must exist first (mkdir -m 700 /tmp/cap4/gnupg): the first capture failed without it.
cap wait-gpg-symmetric-passphrase 3 gpg --homedir /tmp/cap4/gnupg --pinentry-mode loopback --symmetric f.txt
# @eslint/create-config needs a package.json: run in a directory with one (here /tmp/cap3/s/inq).
cap wait-eslint-config-how 20 npx --yes @eslint/create-config@latest
cap wait-git-checkout-patch 2 git -C repo checkout -p
# It asked nothing (debconf already had its answer) and finished: labelled busy.
cap busy-dpkg-reconfigure-tzdata-unasked 4 dpkg-reconfigure -f readline tzdata
# A throwaway sshd on loopback with password logins:
#   /usr/sbin/sshd -f /dev/null -p 2298 -h HOSTKEY -o PidFile=/tmp/cap4/sshd.pid -o ListenAddress=127.0.0.1 -o PasswordAuthentication=yes -o KbdInteractiveAuthentication=no
cap wait-ssh-password 3 ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no -p 2298 root@127.0.0.1
# create-astro refused this machine's Node (v20) and ended: labelled busy.
cap busy-create-astro-node-too-old 30 env -C astro npx --yes create-astro@latest
# Dropped: python `inquirer` (blessed) waited for replies to its terminal-capability queries and
# drew nothing; `vim f.txt` showed the file (no swap-file question): neither screen asks.
