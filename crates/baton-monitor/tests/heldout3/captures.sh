#!/bin/bash
# name seconds command... (run in /tmp/cap3/s; nothing typed)
cd /tmp/cap3/s
C=/tmp/cap3/capture.py
O=/tmp/cap3/out; mkdir -p $O
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-gzip-overwrite 2 gzip a.txt
cap wait-unzip-replace 2 unzip x.zip
cap wait-zip-encrypt-password 2 zip -e enc.zip b.txt
cap wait-mv-overwrite 2 mv -i a.txt b.txt
cap wait-ln-replace 2 ln -i -s a.txt b.txt
cap wait-rm-descend 2 rm -ri dir
cap wait-ssh-keygen-passphrase 2 ssh-keygen -t ed25519 -f ./newkey
cap wait-ssh-keygen-overwrite 2 ssh-keygen -t ed25519 -f ./existing
cap wait-openssl-passwd 2 openssl passwd
cap wait-gpg-gen-key-real-name 3 gpg --homedir /tmp/cap3/gnupg --gen-key
cap wait-python-repl 2 python3 -i -q
cap wait-node-repl 3 node
cap wait-sqlite-shell 2 sqlite3
cap wait-python-pdb 3 python3 -m pdb prog.py
cap wait-perl-debugger 3 perl -d -e 1
cap wait-git-stash-patch 2 git -C repo stash -p
cap wait-git-mergetool 3 env -C conflict git mergetool --tool=vimdiff
cap wait-less-pager 2 less /etc/services
cap wait-click-confirm 2 python3 -c "import click; click.confirm('Drop the staging table?', abort=True)"
cap wait-click-prompt-default 2 python3 -c "import click; click.prompt('Port', default=8080, type=int)"
cap wait-inquirer-select 3 node inq/select.mjs
cap wait-inquirer-checkbox 3 node inq/checkbox.mjs
cap wait-inquirer-confirm 3 node inq/confirm.mjs
cap wait-inquirer-input-default 3 node inq/input.mjs
cap wait-passwd-new-password 2 passwd nobody
cap wait-chsh-login-shell 2 chsh
cap wait-cargo-login-token 3 env CARGO_HOME=/tmp/cap3/cargohome cargo login
cap wait-apt-remove-continue 5 apt-get remove nftables
# --- busy
cap busy-python-http-server 2 python3 -m http.server 8765
# (ping is not installed here: that capture was dropped)
cap busy-cargo-test-failure 25 env -C failing cargo test
cap busy-git-status-hints 2 git -C repo status
cap busy-git-diff-color 2 git -C repo -c color.ui=always --no-pager diff
cap busy-git-merge-conflict 2 git -C conflict2 merge other
cap busy-npm-init-yes 3 env -C inq npm init -y
cap busy-apt-get-dry-run 4 apt-get install --dry-run sl
cap busy-apt-cache-policy 3 apt-cache policy git
cap busy-ls-long-etc 2 ls -la --color=always /etc
cap busy-df-human 2 df -h
cap busy-tar-verbose 3 tar -cvzf /tmp/cap3/doc.tgz /usr/share/doc/git
cap busy-man-git-add-interactive 3 sh -c "man -P cat git-add 2>/dev/null | sed -n '/INTERACTIVE MODE/,+70p'"
cap busy-grep-question-lines 2 sh -c "grep -rh '?\$' /usr/share/perl5 2>/dev/null | head -30"
cap busy-python-unittest-failure 3 python3 t.py
cap busy-node-versions-json 2 node -e "console.log(JSON.stringify(process.versions, null, 2))"
cap busy-openssl-x509-text 3 sh -c "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=example.test -keyout k.pem -out c.pem 2>/dev/null && openssl x509 -in c.pem -text -noout"
cap busy-gpg-version 2 gpg --version
cap busy-sqlite-query-question 2 sqlite3 :memory: "select 'Are you sure you want to continue?'; select 42;"
cap busy-git-log-graph 2 git -C /work/main --no-pager log --graph --oneline -25
cap busy-make-echo 3 make -s
cap busy-cargo-build-deps-progress 8 env -C withdeps cargo build
cap busy-pip-install-progress 8 pip install --no-cache-dir --target /tmp/cap3/pipt --break-system-packages rich
cap busy-npm-install-spinner 4 env -C inq npm install --no-audit --no-fund left-pad
cap busy-curl-progress-bar 4 curl --progress-bar -o /dev/null https://registry.npmjs.org/react
cap busy-npx-cowsay-question 8 npx --yes cowsay "Are you sure you want to deploy?"
cap busy-http-server-ctrl-c 8 npx --yes http-server -p 8766
# --- added in the same session, after the first run
cap busy-openssl-speed-doing 4 openssl speed -seconds 2 sha256
cap busy-apt-get-update 4 apt-get update
cap busy-python-zen 2 python3 -c "import this"
cap busy-perl-version 2 perl -v
cap busy-ip-addr 2 ip addr
# The first mergetool capture went straight into vimdiff (a tool was named): retaken without one.
cap wait-git-mergetool 3 env -C conflict git mergetool
# A throwaway sshd on loopback (host key made by ssh-keygen in /tmp/cap3):
#   /usr/sbin/sshd -f /dev/null -p 2299 -h /tmp/cap3/hostkey -o PidFile=/tmp/cap3/sshd.pid -o ListenAddress=127.0.0.1
cap wait-ssh-unknown-host 3 ssh -o UserKnownHostsFile=/tmp/cap3/known -o GlobalKnownHostsFile=/dev/null -p 2299 root@127.0.0.1
