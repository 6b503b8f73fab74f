#!/bin/bash
# name seconds command... (run after setup.sh; nothing typed)
cd /tmp/cap14/s
C="/tmp/cap14/capture.py --answer-queries"   # ../heldout7/capture.py, copied there
O=/tmp/cap14/out; mkdir -p $O
export PYTHONPATH=/tmp/cap14/py PATH=/tmp/cap14/npm/node_modules/.bin:$PATH
H=/tmp/cap14/home; S=/tmp/cap14/scripts; N="env -C /tmp/cap14/npm node"
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- programs that ask
cap wait-rm-many-arguments 2 rm -I rm-a.txt rm-b.txt rm-c.txt rm-d.txt
cap wait-unar-file-exists 3 sh -c 'unar -q arc.zip >/dev/null; unar arc.zip'
cap wait-testdisk-select-media 3 testdisk disk.img
cap busy-brotli-refuses-existing 2 brotli -k msg.txt
cap wait-hg-revert-interactive 3 env -C hgr HOME=$H/hg hg revert -i a.txt
cap wait-darcs-record 3 env -C dr HOME=$H/darcs darcs record -m first
# --- libraries, as their documentation shows them
cap wait-cleo-choice 2 python3 $S/cleo-choice.py setup
cap wait-cleo-confirm 2 python3 $S/cleo-confirm.py clean
cap wait-curses-textbox 2 python3 $S/curses-textbox.py
cap wait-yesno 2 $N yesno.js
cap wait-prompt-confirm 2 $N prompt-confirm.js
cap wait-prompt-list 2 $N prompt-list.js
cap wait-cli-ux-prompt 3 $N cli-ux-prompt.js
# --- busy: programs at their own interface, output, pauses
cap busy-node-inspect-at-its-prompt 4 node inspect -e '1+1'
cap busy-guile-at-its-prompt 4 env HOME=$H/misc guile
cap busy-gawk-debugger-at-its-prompt 2 gawk -D -f prog.awk /etc/hostname
cap busy-nslookup-at-its-prompt 2 nslookup
cap busy-listr2-running 3 $N listr2-running.mjs
cap busy-cli-progress-paused 3 $N cli-progress-paused.js
cap busy-answered-then-working 2 python3 $S/busy-answered-then-working.py
cap busy-delete-answered 2 python3 $S/busy-delete-answered.py
cap busy-hg-log 2 env -C hgr HOME=$H/hg hg log
cap busy-hg-diff 2 env -C hgr HOME=$H/hg hg diff
cap busy-darcs-whatsnew 2 env -C dr HOME=$H/darcs darcs whatsnew
cap busy-testdisk-version 2 testdisk -v
cap busy-unar-help 2 unar --help
cap busy-brotli-help 2 brotli --help
cap busy-guile-version 2 guile --version
# --- second pass: more of the prompt-* family and cleo (brotli refused to overwrite without
# asking: labelled busy; testdisk showed its media menu, not the log menu: renamed)
cap wait-prompt-checkbox 2 $N prompt-checkbox.js
cap wait-prompt-password 2 $N prompt-password.js
cap wait-prompt-rawlist 2 $N prompt-rawlist.js
cap wait-cleo-ask 2 python3 $S/cleo-ask.py tag
