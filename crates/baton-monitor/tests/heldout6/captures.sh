#!/bin/bash
# name seconds command... (run in /tmp/cap6/s after setup.sh; nothing typed)
cd /tmp/cap6/s
C=/tmp/cap6/capture.py
O=/tmp/cap6/out; mkdir -p $O
export PYTHONPATH=/tmp/cap6/py PATH=/tmp/cap6/py/bin:$PATH
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-git-am-interactive 2 sh -c 'cd repo && git am -i ../patches/*.patch'
cap wait-tar-interactive-extract 2 tar -xwf x.tar -C untar
cap wait-find-ok 2 find . -maxdepth 1 -name 'n1.txt' -ok rm {} ';'
cap wait-xargs-prompt 2 sh -c 'xargs -p echo < list.txt'
cap wait-rm-many-once 2 rm -I n1.txt n2.txt n3.txt n4.txt n5.txt
cap wait-mkfs-proceed-anyway 2 mkfs.ext4 disk.img
cap wait-gpasswd-new-password 2 gpasswd root
cap wait-openssl-pkey-pass-phrase 2 openssl pkey -in enc.pem
cap wait-questionary-rawselect 3 python3 -c "import questionary; questionary.rawselect('Which database?', choices=['postgres', 'sqlite', 'mysql']).ask()"
cap wait-questionary-autocomplete 3 python3 -c "import questionary; questionary.autocomplete('Which fruit?', choices=['apple', 'banana', 'cherry']).ask()"
cap wait-inquirerpy-fuzzy 3 python3 -c "from InquirerPy import inquirer; inquirer.fuzzy(message='Select a branch:', choices=['main', 'dev', 'release/1.2']).execute()"
cap wait-pick-menu 3 python3 -c "from pick import pick; pick(['small', 'medium', 'large'], 'Choose the instance size:')"
cap wait-simple-term-menu 3 python3 -c "from simple_term_menu import TerminalMenu; TerminalMenu(['deploy', 'rollback', 'status'], title='Action').show()"
cap wait-keyring-set-password 3 python3 -m keyring set deploy-service alice
cap wait-pdm-init 10 env -C pdm-proj pdm init
cap wait-create-electron-vite 25 env -C npm1 npx --yes create-electron-vite@latest
cap wait-create-vite-extra 25 env -C npm2 npx --yes create-vite-extra@latest
cap wait-create-preact 25 env -C npm3 npx --yes create-preact@latest
cap wait-readme-md-generator 25 env -C npm5 npx --yes readme-md-generator
cap wait-license-cli 25 env -C npm4 npx --yes license
# --- busy
cap busy-git-filter-branch-warning 4 env -C fb git filter-branch -f --tree-filter true HEAD
cap busy-git-status-short-branch 2 git -C /work/main status -sb
cap busy-git-worktree-list 2 git -C /work/main worktree list
cap busy-git-stash-list-empty 2 sh -c "git -C repo stash list; echo done"
cap busy-cargo-tree-depth 3 sh -c "cargo tree --manifest-path /work/main/Cargo.toml -p baton-proto --depth 2"
cap busy-rustfmt-help 2 rustfmt --help
cap busy-pip-help 3 python3 -m pip --help
cap busy-python-sysconfig 2 sh -c "python3 -m sysconfig | head -40"
cap busy-mkfs-ext4-forced 3 mkfs.ext4 -F disk.img
cap busy-e2fsck-readonly 2 e2fsck -n disk.img
cap busy-dumpe2fs-header 2 dumpe2fs -h disk.img
cap busy-tar-list 2 tar -tvf x.tar
cap busy-zipinfo 2 sh -c "zip -q z.zip f.txt list.txt && zipinfo z.zip"
cap busy-openssl-dgst 2 openssl dgst -sha256 f.txt
cap busy-ssh-keygen-randomart 2 ssh-keygen -lv -f key.pub
cap busy-node-console-table 2 node -e "console.table([{name: 'login', tries: 3}, {name: 'checkout', tries: 7}])"
cap busy-rich-table 2 python3 -c "from rich.console import Console; from rich.table import Table; t = Table('Check', 'Result'); t.add_row('unit', 'passed'); t.add_row('lint', 'failed?'); Console().print(t)"
cap busy-npm-ls-tree 3 env -C /tmp/cap3/s/inq npm ls
cap busy-locale-list 2 locale -a
cap busy-stat-file 2 stat f.txt
cap busy-file-types 2 sh -c "file /bin/* | head -30"
cap busy-column-table 2 sh -c "printf 'name tries state\nlogin 3 ok\ncheckout 7 retry?\n' | column -t"
cap busy-sort-uniq-count 2 sh -c "ls /usr/bin | cut -c1 | sort | uniq -c | sort -rn | head -20"
cap busy-iconv-list 2 sh -c "iconv -l | head -30"
cap busy-python-warnings-deprecated 2 python3 -W always -c "import warnings; warnings.warn('this API is deprecated; do you still need it?', DeprecationWarning)"
