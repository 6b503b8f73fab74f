#!/bin/bash
# name seconds command... (run in /tmp/cap11/s after setup.sh; nothing typed)
cd /tmp/cap11/s
C="/tmp/cap11/capture.py --answer-queries"   # ../heldout7/capture.py, copied there
O=/tmp/cap11/out; mkdir -p $O
export PYTHONPATH=/tmp/cap11/py PATH=/tmp/cap11/py/bin:/tmp/cap11/npm/node_modules/.bin:$PATH
H=/tmp/cap11/home
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- programs that ask
cap busy-lzop-not-overwritten 2 lzop f.txt
cap wait-pax-interactive-rename 2 env -C /tmp/cap11/home/misc pax -r -i -f /tmp/cap11/s/a.tar
cap wait-duplicity-passphrase 8 duplicity full dupsrc file:///tmp/cap11/s/bk
cap wait-taskwarrior-first-run 3 env HOME=$H/task task list
cap wait-timewarrior-first-run 3 env HOME=$H/timew timew
cap wait-hledger-add 4 hledger -f j.journal add
cap wait-alpine-greeting 5 env HOME=$H/alpine alpine
cap wait-peco-select 3 sh -c 'ls /etc | peco'
cap busy-jest-init-deprecated 12 env -C jproj jest --init
cap wait-changeset-add 12 env -C cs changeset add
cap wait-npm-check-update 40 env -C nc npm-check -u
cap wait-s3cmd-configure 4 env HOME=$H/s3 s3cmd --configure
cap wait-pelican-quickstart 6 env -C pel pelican-quickstart
cap wait-lektor-quickstart 8 env -C lek lektor quickstart
cap wait-dialog-radiolist 2 dialog --radiolist "Select the log level:" 12 50 3 debug "" off info "" on warn "" off
cap wait-dialog-passwordbox 2 dialog --passwordbox "Password for the backup key:" 8 50
cap wait-enquirer-select 3 node enq-select.js
cap wait-enquirer-snippet 3 node enq-snippet.js
cap wait-enquirer-sort 3 node enq-sort.js
cap wait-enquirer-scale 3 node enq-scale.js
cap wait-clack-text 3 node clack-group.mjs
cap wait-clack-multiselect 3 node clack-multiselect.mjs
cap wait-clack-confirm-after-note 3 node clack-confirm.mjs
cap wait-terminal-kit-menu 3 node tk-menu.js
cap wait-terminal-kit-yes-no 3 node tk-yesno.js
cap wait-terminal-kit-input 3 node tk-input.js
cap wait-blessed-question 3 node blessed-question.js
cap wait-survey-select 3 python3 survey-select.py
cap wait-survey-inquire 3 python3 survey-inquire.py
cap wait-cutie-select 3 python3 cutie-select.py
cap wait-cutie-yes-no 3 python3 cutie-yesno.py
cap wait-console-menu 3 python3 consolemenu-app.py
cap wait-npyscreen-form 3 python3 npyscreen-form.py
cap wait-asciimatics-popup 3 python3 asciimatics-popup.py
cap wait-enquiries-choose 3 python3 enquiries-choose.py
cap wait-enquiries-confirm 3 python3 enquiries-confirm.py
cap wait-inquirer-py-list 3 python3 inquirer-py-list.py
cap wait-inquirer-py-text 3 python3 inquirer-py-editor.py
cap wait-python-input-retype 2 python3 input-plain.py
# --- busy: programs at their own interface, output, pauses
cap busy-sbcl-at-its-prompt 4 sbcl
cap busy-php-at-its-prompt 3 php -a
cap busy-irb-at-its-prompt 4 env HOME=$H/misc irb
cap busy-emacs-splash 5 env HOME=$H/misc emacs -nw
cap busy-micro-editing 4 env HOME=$H/misc micro app.log
cap busy-btop-monitor 5 env HOME=$H/misc btop
cap busy-glances-monitor 8 glances
cap busy-lnav-log 5 env HOME=$H/misc lnav app.log
cap busy-gdu-browsing 4 gdu /tmp/cap11/s
cap busy-duf-table 2 duf
cap busy-ncal-year 2 ncal -y 2026
cap busy-blessed-service-list 3 node blessed-list.js
cap busy-terminal-kit-progress 3 node tk-progress.js
cap busy-python-waiting-for-socket 3 python3 busy-python-waiting-socket.py
cap busy-question-then-sleeping 3 python3 busy-long-sleep-after-question-text.py
cap busy-pax-list 2 pax -v -f a.tar
cap busy-lzop-list 2 lzop -l f.txt.lzo
cap busy-hledger-balance 2 hledger -f j.journal bal
cap busy-jest-no-tests 10 env -C jproj jest --passWithNoTests
cap busy-changeset-status 10 env -C cs changeset status
cap busy-s3cmd-help 2 s3cmd --help
cap busy-peco-help 2 peco --help
cap busy-task-version 2 env HOME=$H/task task --version
cap busy-dialog-version 2 dialog --version
cap busy-ruby-question-sleeping 3 ruby -e 'puts "Is the cache warm?"; puts "checking 3 shards..."; sleep 600'
cap busy-ranger-help 2 ranger --help
cap busy-sbcl-version 2 sbcl --version
cap busy-emacs-version 2 emacs --version
