#!/bin/bash
# name seconds command... (run in /tmp/cap9/s after setup.sh; nothing typed)
cd /tmp/cap9/s
C=/tmp/cap9/capture.py   # ../heldout7/capture.py, copied there
O=/tmp/cap9/out9; mkdir -p $O
export PYTHONPATH=/tmp/cap9/py PATH=/tmp/cap9/py/bin:/tmp/cap9/npm/node_modules/.bin:$PATH
H=/tmp/cap9/home
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-zsh-newuser-install 3 env HOME=$H/zsh zsh -i
cap wait-zsh-rm-star 3 env HOME=$H/zsh zsh -f -i -c 'rm rmstar/*'
cap wait-e2fsck-clear-entry 3 e2fsck -f fs.img
cap wait-gdisk-mbr-or-gpt 3 gdisk gpt.img
cap wait-trash-restore 3 env HOME=$H/trash trash-restore
cap wait-trash-empty 3 env HOME=$H/trash trash-empty
cap wait-unison-propagate 5 env HOME=$H/zsh unison -ui text ua ub
cap wait-borg-init-passphrase 4 borg init -e repokey borg1
cap wait-borg-delete-yes 5 env BORG_PASSPHRASE=x borg delete borg2
cap wait-restic-init-password 3 restic init -r restic1
cap wait-rclone-config 3 rclone config --config rclone/rclone.conf
cap wait-age-passphrase 3 age -p -o f.age f.txt
cap wait-htpasswd-new 2 htpasswd -c pw.txt alice
cap wait-mkpasswd 2 mkpasswd
cap wait-nethack-pick 3 env HOME=$H/nethack /usr/games/nethack
cap wait-mutt-create-maildir 3 env HOME=$H/mutt MAIL=/tmp/cap9/s/nomail mutt
cap wait-git-send-email 4 env -C repo git send-email ../one.patch
cap wait-hf-auth-login 8 env HF_HOME=$H/hf hf auth login
cap wait-llm-keys-set 8 env LLM_USER_PATH=$H/llm llm keys set openai
cap wait-jrnl-first-run 8 env XDG_CONFIG_HOME=$H/jrnl XDG_DATA_HOME=$H/jrnl jrnl
cap wait-khal-configure 8 env XDG_CONFIG_HOME=$H/khal XDG_DATA_HOME=$H/khal khal configure
cap wait-thefuck-choose 8 env HOME=$H/zsh TF_SHELL=bash thefuck git brnch
cap wait-certbot-register-email 10 certbot register --config-dir $H/le --work-dir $H/le --logs-dir $H/le
cap wait-bullet-menu 4 python3 bullet_menu.py
cap wait-inquirer-py-list 4 python3 inquirer_menu.py
cap wait-pudb-welcome 6 env XDG_CONFIG_HOME=$H/pudb python3 -m pudb dbg.py
cap wait-deno-read-permission 8 deno run perm.ts
cap wait-plop-component 10 plop
cap wait-create-cloudflare 20 env -C npm1 create-cloudflare
cap wait-create-vuepress-site 15 env -C npm2 create-vuepress-site
cap wait-ionic-start 20 env -C npm3 ionic start
cap wait-capacitor-init 15 env -C npm4 cap init
cap wait-create-stencil 15 env -C npm5 create-stencil
cap wait-create-payload-app 20 env -C npm6 create-payload-app
cap wait-create-medusa-app 20 env -C npm7 create-medusa-app
cap wait-create-astro 20 env -C npm8 create-astro
cap wait-czg-type 12 env -C repo czg
cap wait-changeset-bump 12 env -C cs changeset
cap wait-taze-interactive 20 env -C taze taze -I
# --- busy: programs idle at their own interface (not a question)
cap busy-mc-file-manager 4 env HOME=$H/zsh mc
cap busy-vim-editing 3 vim big.txt
cap busy-nano-editing 3 nano big.txt
cap busy-tig-log 3 env -C repo tig
cap busy-ncdu-browsing 4 ncdu /usr/share/doc/git
cap busy-lynx-page 4 lynx notes.html
cap busy-w3m-page 4 w3m notes.html
cap busy-bc-at-its-prompt 2 bc -q
cap busy-fish-at-its-prompt 4 env HOME=$H/fish fish
cap busy-dash-at-its-prompt 2 dash -i
cap busy-gnuplot-at-its-prompt 3 gnuplot
cap busy-ptpython-at-its-prompt 6 ptpython
cap busy-litecli-at-its-prompt 6 env HOME=$H/zsh litecli :memory:
cap busy-textual-demo 10 python3 -m textual
cap busy-cat-reading-nothing 2 cat
cap busy-nethack-scores 2 env HOME=$H/nethack /usr/games/nethack -s
# --- busy: output
cap busy-e2fsck-no-answers 3 e2fsck -fn fs.img
cap busy-gdisk-list 2 gdisk -l gpt.img
cap busy-sgdisk-print 2 sgdisk -p gpt.img
cap busy-trash-list 2 env HOME=$H/trash trash-list
cap busy-unison-version 2 unison -version
cap busy-borg-info 4 env BORG_PASSPHRASE=x borg info borg2
cap busy-restic-help 2 restic --help
cap busy-rclone-listremotes 2 rclone listremotes --config rclone/rclone.conf
cap busy-age-help 2 age --help
cap busy-lynx-dump 2 lynx -dump notes.html
cap busy-w3m-dump 2 w3m -dump notes.html
cap busy-mutt-version 2 mutt -v
cap busy-git-send-email-dry-run 4 env -C repo git send-email --dry-run --to=a@b --from='T <t@e>' --confirm=never ../one.patch
cap busy-gnuplot-print 2 gnuplot -e 'print "Ready? yes"'
cap busy-zsh-version 2 zsh --version
cap busy-fish-help-funcs 2 fish -c 'functions -n | head -60'
cap busy-tune2fs-list 2 tune2fs -l fs.img
cap busy-debugfs-stats 2 debugfs -R stats fs.img
cap busy-hf-env 6 env HF_HOME=$H/hf hf env
cap busy-llm-help 6 llm --help
cap busy-khal-help 6 khal --help
cap busy-certbot-help 8 certbot --help
cap busy-thefuck-version 4 thefuck --version
cap busy-deno-eval-question 6 deno eval 'console.log("Should we retry? The server said 503.\nRetrying in 5s...")'
cap busy-deno-help 4 deno --help
cap busy-ionic-help 10 ionic --help
cap busy-changeset-status 10 env -C cs changeset status
cap busy-strings-binary 2 sh -c 'strings /usr/bin/age | head -60'
cap busy-hexdump-file 2 sh -c 'hexdump -C /usr/bin/age | head -60'
