#!/bin/bash
# Scratch for heldout11 captures: /tmp/cap11 (apt: lzop pax duplicity taskwarrior timewarrior
# hledger peco sbcl php-cli ruby emacs-nox micro btop glances alpine ncal lnav gdu duf dialog;
# npm (--prefix npm): jest @changesets/cli npm-check enquirer @clack/prompts terminal-kit blessed;
# pip (--target py): s3cmd pelican lektor survey cutie console-menu npyscreen asciimatics
# enquiries inquirer). Library scripts in s/ (see captures.sh).
set -e
cd /tmp/cap11/s
H=/tmp/cap11/home; mkdir -p $H/task $H/timew $H/alpine $H/s3 $H/misc
echo hello > f.txt; lzop -f f.txt
mkdir -p paxsrc && echo one > paxsrc/a.txt && echo two > paxsrc/b.txt && tar cf a.tar paxsrc
mkdir -p dupsrc && echo data > dupsrc/x.txt
printf '2026-12-01 opening\n    assets:bank   100 EUR\n    equity\n' > j.journal
mkdir -p jproj && (cd jproj && echo '{"name":"jproj","version":"1.0.0"}' > package.json)
mkdir -p cs && (cd cs && git init -q && echo '{"name":"cs-pkg","version":"1.0.0"}' > package.json && mkdir -p .changeset && echo '{"baseBranch":"main","changelog":false,"commit":false,"access":"restricted","updateInternalDependencies":"patch","ignore":[]}' > .changeset/config.json && git add -A && git -c user.email=a@b -c user.name=a commit -qm init)
mkdir -p nc && (cd nc && echo '{"name":"nc","version":"1.0.0","dependencies":{"left-pad":"1.0.0"}}' > package.json && npm install --no-audit --no-fund --loglevel=error left-pad@1.0.0)
mkdir -p pel lek
for i in $(seq 1 300); do echo "2026-12-07T12:00:$((i%60)) INFO worker[$i] processed job $i in $((i%17))ms"; done > app.log
