#!/bin/bash
# name seconds command... (run after setup.sh; nothing typed)
cd /tmp/cap12/s
C="/tmp/cap12/capture.py --answer-queries"   # ../heldout7/capture.py, copied there
O=/tmp/cap12/out; mkdir -p $O
export PYTHONPATH=/tmp/cap12/py PATH=/tmp/cap12/py/bin:/tmp/cap12/npm/node_modules/.bin:$PATH
H=/tmp/cap12/home; S=/tmp/cap12/scripts; N="env -C /tmp/cap12/npm node"
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- programs that ask
cap wait-aspell-check 2 aspell check typo.txt
cap wait-pick-select 2 sh -c 'ls /etc | pick'
cap wait-fzy-select 2 sh -c 'ls /etc | fzy'
cap wait-neomutt-create-maildir 3 env HOME=$H/neomutt neomutt
cap wait-httpie-password 3 http -a alice http://127.0.0.1:9/
# --- libraries, as their documentation shows them
cap wait-curses-menu 2 python3 $S/curses-menu.py
cap wait-urwid-menu 3 python3 $S/urwid-menu.py
cap wait-urwid-question 3 python3 $S/urwid-question.py
cap wait-picotui-confirm 3 python3 $S/picotui-confirm.py
cap wait-picotui-listbox 3 python3 $S/picotui-listbox.py
cap wait-typer-confirm 3 python3 $S/typer-confirm.py
cap wait-typer-prompt 3 python3 $S/typer-prompt.py
cap wait-readline-sync-yn 2 $N rl-yn.js
cap wait-readline-sync-select 2 $N rl-select.js
cap wait-flatiron-prompt 2 $N flatiron-prompt.js
cap wait-prompt-sync 2 $N prompt-sync.js
cap wait-inquirer-expand 3 $N inq-expand.mjs
cap wait-inquirer-search 3 $N inq-search.mjs
cap wait-inquirer-number 3 $N inq-number.mjs
cap wait-ink-select-input 3 $N ink-select.mjs
cap wait-ink-text-input 3 $N ink-text.mjs
cap wait-consola-confirm 3 $N consola-confirm.mjs
cap wait-consola-select 3 $N consola-select.mjs
cap wait-cli-select 2 $N cli-select.js
# --- busy: programs at their own interface, output, pauses
cap busy-lf-browsing 3 env HOME=$H/lf lf /tmp/cap12/s
cap busy-joe-editing 3 env HOME=$H/misc joe notes.txt
cap busy-mg-editing 3 env HOME=$H/misc mg notes.txt
cap busy-ne-editing 3 env HOME=$H/misc ne notes.txt
cap busy-kakoune-editing 3 env HOME=$H/misc kak notes.txt
cap busy-jed-editing 3 env HOME=$H/misc jed notes.txt
cap busy-nload-monitor 3 nload
cap busy-bmon-monitor 3 bmon
cap busy-irssi-first-screen 4 env HOME=$H/irssi irssi
cap busy-newsboat-no-urls 3 env HOME=$H/newsboat newsboat
cap busy-mocp-interface 4 env HOME=$H/moc mocp
cap busy-sc-spreadsheet 3 sc
cap busy-clisp-at-its-prompt 3 clisp
cap busy-ncftp-at-its-prompt 3 env HOME=$H/misc ncftp
cap busy-lftp-at-its-prompt 3 env HOME=$H/misc lftp
cap busy-python-cmd-shell 2 python3 $S/cmd-shell.py
cap busy-alive-progress-bar 7 python3 $S/alive-bar.py
cap busy-node-done-question 2 node $S/busy-node-done-question.js
cap busy-python-menu-printed 2 python3 $S/busy-python-menu-printed.py
cap busy-ufw-status 2 ufw status verbose
cap busy-aspell-dicts 2 aspell dump dicts
cap busy-http-help 2 http --help
cap busy-fzy-help 2 fzy --help
cap busy-lftp-version 2 lftp --version
cap busy-units-conversion 2 units '1 mile' km
cap busy-apt-cache-show-fzy 2 apt-cache show fzy
# --- second pass (the first ispell found no dictionary: iamerican installed; ufw enabled the
# firewall without asking and tasksel failed on /dev/mem — both dropped, ufw purged)
cap wait-ispell-check 2 ispell typo2.txt
cap wait-lftp-password 3 env HOME=$H/misc lftp -u alice 127.0.0.1
cap busy-ncftp-retrying 3 env HOME=$H/misc ncftp -u alice 127.0.0.1
