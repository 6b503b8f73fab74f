#!/bin/bash
# Scratch for heldout13 captures: /tmp/cap13 (apt: aptitude byobu minisign signify-openbsd
# redis-tools telnet weechat-curses nvi most zile hexedit apcalc qalc cryfs composer;
# npm (in npm/): ink@4 @inkjs/ui@1 react@18 terminal-menu @topcli/prompts;
# pip (--target py): pyinputplus stdiomask maskpass plumbum pzp cmd2 enlighten yaspin
# progressbar2; aider-chat (--target py2)). Library scripts in scripts/ (node ones copied into
# npm/ to find their modules).
set -e
cd /tmp/cap13/s
H=/tmp/cap13/home; mkdir -p $H/misc $H/byobu $H/weechat $H/composer $H/aider
for i in $(seq 1 300); do echo "line $i of the report"; done > report.txt
head -c 4096 /dev/urandom > blob.bin
mkdir -p comp cry aid && (cd aid && git init -q && echo 'print(1)' > main.py && git add -A && git -c user.email=a@b -c user.name=a commit -qm init)
