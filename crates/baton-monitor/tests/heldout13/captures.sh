#!/bin/bash
# name seconds command... (run after setup.sh; nothing typed)
cd /tmp/cap13/s
C="/tmp/cap13/capture.py --answer-queries"   # ../heldout7/capture.py, copied there
O=/tmp/cap13/out; mkdir -p $O
export PYTHONPATH=/tmp/cap13/py PATH=/tmp/cap13/py/bin:/tmp/cap13/npm/node_modules/.bin:$PATH
H=/tmp/cap13/home; S=/tmp/cap13/scripts; N="env -C /tmp/cap13/npm node"
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- programs that ask
cap wait-aptitude-install 6 aptitude install sl
cap wait-byobu-select-backend 3 env HOME=$H/byobu byobu-select-backend
cap wait-minisign-generate 2 minisign -G -p /tmp/cap13/s/k.pub -s /tmp/cap13/s/k.sec
cap wait-signify-generate 2 signify-openbsd -G -p /tmp/cap13/s/s.pub -s /tmp/cap13/s/s.sec
cap wait-cryfs-create 4 cryfs /tmp/cap13/s/cry/base /tmp/cap13/s/cry/mnt
cap wait-composer-init 6 env -C comp HOME=$H/composer composer init
# --- libraries, as their documentation shows them
cap wait-ptk-choice 3 python3 $S/ptk-choice.py
cap wait-pyinputplus-menu 2 python3 $S/pip-menu.py
cap wait-pyinputplus-yes-no 2 python3 $S/pip-yesno.py
cap wait-stdiomask-password 2 python3 $S/stdiomask-pass.py
cap wait-maskpass-token 2 python3 $S/maskpass-pass.py
cap wait-plumbum-choose 2 python3 $S/plumbum-choose.py
cap wait-plumbum-ask 2 python3 $S/plumbum-ask.py
cap wait-pzp-pick 3 python3 $S/pzp-pick.py
cap wait-node-readline-question 2 $N node-rl-question.js
cap wait-inkui-select 3 $N inkui-select.mjs
cap wait-inkui-confirm 3 $N inkui-confirm.mjs
cap wait-terminal-menu 2 $N terminal-menu.js
cap wait-topcli-select 3 $N topcli-select.mjs
cap wait-topcli-confirm 3 $N topcli-confirm.mjs
# --- busy: programs at their own interface, output, pauses
cap busy-redis-cli-at-its-prompt 2 redis-cli
cap busy-telnet-at-its-prompt 2 telnet
cap busy-weechat-first-screen 4 env HOME=$H/weechat weechat
cap busy-nvi-editing 3 env HOME=$H/misc nvi report.txt
cap busy-most-pager 3 most report.txt
cap busy-zile-editing 3 env HOME=$H/misc zile report.txt
cap busy-hexedit-file 3 hexedit blob.bin
cap busy-apcalc-at-its-prompt 2 calc
cap busy-qalc-at-its-prompt 2 env HOME=$H/misc qalc
cap busy-cmd2-at-its-prompt 3 python3 $S/cmd2-app.py
cap busy-enlighten-paused 5 python3 $S/enlighten-paused.py
cap busy-progressbar-paused 5 python3 $S/progressbar-paused.py
cap busy-asked-then-went-on 2 python3 $S/busy-asked-then-went-on.py
cap busy-waiting-for-peer 2 python3 $S/busy-waiting-for-peer.py
cap busy-node-select-printed 2 node $S/busy-node-select-printed.js
cap busy-aptitude-search 4 aptitude search '~n^sl$'
cap busy-composer-version 3 env HOME=$H/composer composer --version
cap busy-minisign-help 2 minisign -h
cap busy-redis-cli-help 2 redis-cli --help
cap busy-qalc-conversion 2 env HOME=$H/misc qalc '5 miles to km'
cap busy-byobu-version 2 byobu --version
cap busy-cryfs-version 2 cryfs --version
# aider (pip --target py2), no model named and no key: its first questions
cap wait-aider-first-run 20 env -C aid HOME=$H/aider PYTHONPATH=/tmp/cap13/py2 PATH=/tmp/cap13/py2/bin:/usr/bin:/bin python3 -m aider --no-check-update --no-show-release-notes
