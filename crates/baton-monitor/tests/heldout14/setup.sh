#!/bin/bash
# Scratch for heldout14 captures: /tmp/cap14 (apt: unar testdisk brotli mercurial darcs
# guile-3.0 dnsutils gawk; npm (in npm/): yesno prompt-confirm prompt-list prompt-checkbox
# prompt-password prompt-rawlist cli-ux listr2
# cli-progress progress; pip (--target py): cleo). Library scripts in scripts/ (node ones
# copied into npm/ to find their modules).
set -e
cd /tmp/cap14/s
H=/tmp/cap14/home; mkdir -p $H/misc $H/hg $H/darcs
printf '[ui]\nusername = dev <dev@example.com>\n' > $H/hg/.hgrc
for f in a b c d; do echo $f > rm-$f.txt; done
mkdir -p arc && echo one > arc/notes.txt && zip -qr arc.zip arc
echo hello > msg.txt && brotli -f -k msg.txt
echo hi > disk.img && truncate -s 8M disk.img
rm -rf hgr && hg init hgr && (cd hgr && echo one > a.txt && HOME=$H/hg hg add -q a.txt && HOME=$H/hg hg commit -qm init && echo two >> a.txt)
rm -rf dr && mkdir dr && (cd dr && HOME=$H/darcs darcs init -q && echo one > a.txt && HOME=$H/darcs darcs add -q a.txt)
printf 'BEGIN { x = 1 }\n{ print $1 }\n' > prog.awk
