#!/bin/bash
# name seconds command... (run in /tmp/cap5/s after setup.sh; nothing typed)
cd /tmp/cap5/s
C=/tmp/cap5/capture.py
O=/tmp/cap5/out; mkdir -p $O
export PYTHONPATH=/tmp/cap5/py PATH=/tmp/cap5/py/bin:$PATH
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
mkdir -p -m 700 /tmp/cap5/gnupg
cap wait-gpg-full-generate-key-kind 3 gpg --homedir /tmp/cap5/gnupg --full-generate-key
cap wait-openssl-enc-password 2 openssl enc -aes-256-cbc -pbkdf2 -in f.txt -out f.enc
cap wait-npm-login-press-enter 8 npm login
cap wait-npm-exec-ok-to-proceed 8 npm exec cowsay@1.5.0 hi
cap wait-create-hono-target 25 npx --yes create-hono@latest
cap wait-create-react-router-where 25 npx --yes create-react-router@latest
cap wait-create-rsbuild-name 25 npx --yes create-rsbuild@latest
cap wait-create-turbo-where 25 npx --yes create-turbo@latest
cap wait-create-tauri-app-name 25 npx --yes create-tauri-app@latest
cap wait-yarn1-init-name 20 env -C yarn-proj npx --yes yarn@1 init
cap wait-questionary-checkbox 3 python3 -c "import questionary; questionary.checkbox('Which checks should run?', choices=['unit', 'lint', 'e2e']).ask()"
cap wait-questionary-confirm 3 python3 -c "import questionary; questionary.confirm('Push the tag now?').ask()"
cap wait-questionary-password 3 python3 -c "import questionary; questionary.password('Registry password?').ask()"
cap wait-prompt-toolkit-yes-no-dialog 3 python3 -c "from prompt_toolkit.shortcuts import yes_no_dialog; yes_no_dialog(title='Reset', text='Reset the database?').run()"
cap wait-prompt-toolkit-radiolist-dialog 3 python3 -c "from prompt_toolkit.shortcuts import radiolist_dialog; radiolist_dialog(title='Region', text='Pick a region', values=[('eu', 'Europe'), ('us', 'United States')]).run()"
cap wait-createuser-interactive 2 createuser --interactive -h 127.0.0.1
cap wait-aws-configure-access-key 6 aws configure
cap wait-poetry-init-package-name 8 env -C poetry-proj poetry init
cap wait-sphinx-quickstart-separate 6 env -C sphinx-proj sphinx-quickstart
cap wait-hatch-new-init 8 env -C hatch-proj hatch new --init
cap wait-git-reset-patch 2 git -C repo reset -p
cap wait-rich-int-prompt 2 python3 -c "from rich.prompt import IntPrompt; IntPrompt.ask('How many workers')"
cap wait-dpkg-reconfigure-locales 4 dpkg-reconfigure -f readline locales
# --- busy
cap busy-rich-progress-demo 3 python3 -m rich.progress
cap busy-tqdm-loop 3 python3 -c "from tqdm import tqdm; import time; [time.sleep(0.05) for _ in tqdm(range(200), desc='indexing')]"
cap busy-pip-download-progress 5 pip download --no-cache-dir -d /tmp/cap5/dl numpy
cap busy-npm-install-typescript 4 env -C /tmp/cap3/s/inq npm install --no-audit --no-fund typescript
cap busy-cargo-metadata-json 3 sh -c "cargo metadata --format-version 1 --manifest-path /work/main/Cargo.toml --no-deps | head -c 3000"
cap busy-cargo-list 2 cargo --list
cap busy-rustc-print-cfg 2 rustc --print cfg
cap busy-git-grep-fn-main 2 git -C /work/main --no-pager grep -n "fn main"
cap busy-git-reflog 2 git -C /work/main --no-pager reflog -15
cap busy-git-help-all 2 sh -c "git help -a | head -60"
cap busy-git-log-patch-one 2 git -C /work/main --no-pager log -p -1 --stat -- README.md
cap busy-apt-get-help 2 apt-get --help
cap busy-ssh-keygen-usage 2 ssh-keygen --help
cap busy-openssl-req-help 2 openssl req -help
cap busy-gpg-help 2 gpg --help
cap busy-man-ssh-keygen-passphrase 3 sh -c "man -P cat ssh-keygen 2>/dev/null | sed -n '/-N new_passphrase/,+25p'"
cap busy-grep-are-you-sure 2 sh -c "grep -rhn 'Are you sure' /usr/share/perl5 /usr/lib/python3/dist-packages 2>/dev/null | head -15"
cap busy-python-calendar 2 python3 -m calendar 2026 12
cap busy-python-tokenize 2 python3 -m tokenize /tmp/cap3/s/prog.py
cap busy-ps-forest 2 sh -c "ps -ef --forest | head -40"
cap busy-ss-listening 2 ss -tln
cap busy-npm-config-list 3 npm config list
cap busy-npm-search-react 8 npm search react --searchlimit 8
cap busy-pip-cache-info 3 pip cache info
cap busy-openssl-version-all 2 openssl version -a
cap busy-cpuinfo-head 2 sh -c "head -30 /proc/cpuinfo"
# --- relabelled after the first run: the program did not ask, it ended
#   wait-create-rsbuild-name   -> busy-create-rsbuild-npm-error (npm: no matching version of a dependency)
#   wait-npm-exec-ok-to-proceed -> busy-npm-exec-canceled (npm canceled: "no YES option")
#   wait-dpkg-reconfigure-locales -> busy-dpkg-reconfigure-locales-unasked (it generated and ended)
# --- added in the same session (each in its own empty directory)
cap wait-create-t3-app-name 25 env -C t3 npx --yes create-t3-app@latest
cap wait-create-solid-name 25 env -C solid npx --yes create-solid@latest
cap wait-create-qwik-where 25 env -C qwik npx --yes create-qwik@latest
cap wait-create-waku-name 25 env -C waku npx --yes create-waku@latest
cap wait-click-pause-any-key 2 python3 -c "import click; click.pause()"
cap wait-chage-minimum-age 2 chage root
# vim's swap-file question: a first vim holds f.txt in a private tmux server meanwhile.
#   tmux -L cap5 new -d -s v "vim f.txt"; sleep 1
cap wait-vim-swap-attention 3 vim f.txt
