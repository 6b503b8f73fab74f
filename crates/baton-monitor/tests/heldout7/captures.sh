#!/bin/bash
# name seconds command... (run in /tmp/cap7/s after setup.sh; nothing typed)
cd /tmp/cap7/s
C=/tmp/cap7/capture.py
O=/tmp/cap7/out; mkdir -p $O
export PYTHONPATH=/tmp/cap7/py PATH=/tmp/cap7/py/bin:$PATH GNUPGHOME=/tmp/cap7/home/gnupg
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-parted-destroy-label 2 parted disk.img mklabel gpt
cap wait-cryptsetup-luks-format 3 cryptsetup luksFormat luks.img
cap wait-crontab-choose-editor 2 env -u EDITOR -u VISUAL HOME=/tmp/cap7/home crontab -e
cap wait-tzselect-continent 2 tzselect
cap wait-whiptail-yes-no 2 whiptail --yesno "Restart the web service now?" 10 50
cap wait-whiptail-menu 2 whiptail --menu "Pick a mirror" 15 50 4 1 deb.debian.org 2 ftp.de.debian.org 3 ftp.us.debian.org
cap wait-dialog-inputbox 2 dialog --inputbox "Hostname for this node:" 8 50
cap wait-dialog-checklist 2 dialog --checklist "Features to enable" 12 50 4 docs "Documentation" off tests "Test suite" on
cap wait-fzf-branch 2 sh -c "printf 'main\ndev\nfix/login\n' | fzf --prompt 'Branch> '"
cap wait-gh-auth-login 4 env HOME=/tmp/cap7/home gh auth login
cap wait-django-createsuperuser 4 python3 site1/manage.py createsuperuser
cap wait-flit-init 4 env -C flitp flit init
cap wait-ansible-vault-create 6 ansible-vault create secrets.yml
cap wait-beaupy-select 3 python3 -c "import beaupy; print('Which environment?'); beaupy.select(['staging', 'production'])"
cap wait-zstd-overwrite 2 zstd f.txt
cap wait-gpg-gen-revoke 3 gpg --gen-revoke c7@example.com
cap wait-rustup-init-proceed 4 env CARGO_HOME=/tmp/cap7/home/cargo RUSTUP_HOME=/tmp/cap7/home/rustup ./rustup-init
cap wait-create-playwright 30 env -C npm1 npx --yes create-playwright@latest
cap wait-create-nx-workspace 40 env -C npm2 npx --yes create-nx-workspace@latest
cap wait-create-expo-app 30 env -C npm3 npx --yes create-expo-app@latest
cap wait-nuxi-init 30 env -C npm4 npx --yes nuxi@latest init
cap wait-vitepress-init 30 env -C npm5 npx --yes vitepress@latest init
cap wait-create-rspack 30 env -C npm6 npx --yes create-rspack@latest
cap wait-create-docusaurus 40 env -C npm7 npx --yes create-docusaurus@latest
cap wait-create-farm 30 env -C npm8 npx --yes create-farm@latest
# --- busy (a program at its own command prompt, a pager: busy, as the tuned corpus labels them)
cap busy-fdisk-at-its-prompt 2 fdisk disk.img
cap busy-parted-at-its-prompt 2 parted disk.img
cap busy-gpg-edit-key-at-its-prompt 2 gpg --edit-key c7@example.com
cap busy-ipython-at-its-prompt 4 ipython --no-banner
cap busy-lua-at-its-prompt 2 lua5.4
cap busy-tclsh-at-its-prompt 2 tclsh
cap busy-gdb-at-its-prompt 3 gdb -q
cap busy-more-pager 2 more long.txt
cap busy-openssl-dhparam-generating 4 openssl dhparam 2048
cap busy-vmstat-interval 4 vmstat 1 10
cap busy-cargo-build-compiling 6 env -C cbuild cargo build
cap busy-pytest-failure 5 python3 -m pytest -q tests
cap busy-node-test-failure 3 node --test t.test.js
cap busy-ruff-check 3 ruff check --no-cache lintme.py
cap busy-django-migrate-list 4 python3 site1/manage.py showmigrations
cap busy-django-check 4 python3 site1/manage.py check
cap busy-fdisk-list 2 fdisk -l disk.img
cap busy-parted-print 2 parted -s disk.img print
cap busy-crontab-list-empty 2 env HOME=/tmp/cap7/home crontab -l
cap busy-gh-help 2 env HOME=/tmp/cap7/home gh --help
cap busy-fzf-filter 2 sh -c "printf 'main\ndev\nfix/login\n' | fzf --filter fi"
cap busy-git-branch-verbose 2 git -C repo branch -vv
cap busy-git-gc 3 git -C /work/main gc --dry-run
cap busy-lsblk 2 lsblk
cap busy-gpg-list-secret 2 gpg -K
cap busy-python-dis 2 python3 -m dis site1/manage.py
cap busy-twine-help 3 twine --help
cap busy-ansible-config-dump 6 sh -c "ansible-config dump --only-changed; ansible --version"
cap busy-cargo-search 6 cargo search serde --limit 5
cap busy-npm-ping 6 npm ping
cap busy-zstd-verbose 2 zstd -v -f -o /tmp/cap7/long.zst long.txt
cap busy-lz4-bench 4 lz4 -b1 long.txt
cap busy-whiptail-usage 2 sh -c "whiptail 2>&1 | head -30"
