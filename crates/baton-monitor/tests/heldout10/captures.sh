#!/bin/bash
# name seconds command... (run in /tmp/cap10/s after setup.sh; nothing typed)
cd /tmp/cap10/s
C=/tmp/cap10/capture.py   # ../heldout7/capture.py, copied there
O=/tmp/cap10/out; mkdir -p $O
export PYTHONPATH=/tmp/cap10/py PATH=/tmp/cap10/py/bin:/tmp/cap10/npm/node_modules/.bin:$PATH
export GNUPGHOME=/tmp/cap10/home/gnupg
H=/tmp/cap10/home
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-dpkg-conffile 4 dpkg -i demo-1.1.deb
cap wait-pwck-delete-line 2 pwck passwd shadow
cap wait-crontab-really-delete 2 crontab -u nobody -ri
cap wait-less-binary-file 2 less /usr/bin/lz4
cap wait-lz4-overwrite 2 lz4 f.txt f.txt.lz4
cap wait-certtool-self-signed 3 certtool --generate-self-signed --load-privkey key.pem
cap wait-cgdisk-press-any-key 3 sh -c 'dd if=/dev/zero of=blank.img bs=1M count=4 status=none && cgdisk blank.img'
cap wait-encfs-new-volume 3 encfs /tmp/cap10/s/crypt /tmp/cap10/s/plain
cap wait-gocryptfs-init 3 gocryptfs -init raw
cap wait-pinentry-git-commit-sign 8 env -C repo sh -c 'GPG_TTY=$(tty) git commit -S -m signed'
cap wait-pip-review-upgrade 60 pip-review --interactive
cap wait-cz-init 8 env -C repo HOME=$H/cz cz init
cap wait-create-remix 15 env -C npm1 create-remix
cap wait-create-react-native-library 15 env -C npm2 create-react-native-library
cap wait-create-quasar 15 env -C npm3 create-quasar
cap wait-create-vuetify 15 env -C npm4 create-vuetify
cap wait-create-umi 15 env -C npm5 create-umi
cap wait-create-mastra 15 env -C npm6 create-mastra
cap wait-create-wxt 15 env -C npm7 wxt init
cap wait-create-better-t-stack 15 env -C npm8 create-better-t-stack
cap wait-create-mcp-server 15 env -C npm9 create-mcp-server
cap wait-bumpp-version 12 env -C bump bumpp
cap wait-release-it-increment 15 env -C rel release-it --no-git.requireUpstream --no-npm.publish --no-git.push
cap wait-create-typescript-app 15 env -C npm10 create-typescript-app
# --- busy: programs idle at their own interface (not a question)
cap busy-ranger-browsing 5 env HOME=$H/ranger ranger
cap busy-visidata-table 5 env HOME=$H/vd vd t.csv
cap busy-bpython-at-its-prompt 5 env HOME=$H/bpy bpython
cap busy-calcurse-calendar 4 env HOME=$H/calcurse calcurse -D $H/calcurse/data
cap busy-cmus-library 4 env HOME=$H/cmus cmus
cap busy-nnn-browsing 3 nnn
cap busy-vifm-browsing 4 env HOME=$H/vifm vifm
cap busy-top-refreshing 4 top
cap busy-htop-refreshing 4 htop
cap busy-info-ls 3 info ls
cap busy-elinks-page 4 elinks notes.html
cap busy-asyncio-repl-at-its-prompt 3 python3 -m asyncio
cap busy-deno-repl-at-its-prompt 8 deno repl
cap busy-ipdb-at-its-prompt 6 python3 dbg.py
cap busy-less-text-file 2 less big.txt
# --- busy: output
cap busy-pwck-read-only 2 pwck -r passwd shadow
cap busy-crontab-list 2 crontab -u nobody -l
cap busy-dpkg-status 2 dpkg -s batondemo
cap busy-dpkg-deb-info 2 dpkg-deb -I demo-1.1.deb
cap busy-lz4-bench 6 lz4 -b1 big.txt
cap busy-certtool-key-info 2 sh -c 'certtool --key-info --infile key.pem | head -40'
cap busy-sgdisk-verify 2 sh -c 'dd if=/dev/zero of=blank2.img bs=1M count=4 status=none && sgdisk -v blank2.img'
cap busy-encfs-help 2 encfs --help
cap busy-gocryptfs-help 2 gocryptfs -help
cap busy-gpg-list-keys 3 gpg --list-keys
cap busy-git-log-signatures 3 env -C repo git log --show-signature -1
cap busy-pip-review-list 60 pip-review
cap busy-cz-help 6 cz --help
cap busy-bumpp-help 8 bumpp --help
cap busy-release-it-help 8 release-it --help
cap busy-ranger-version 4 ranger --version
cap busy-visidata-version 4 vd --version
cap busy-htop-version 2 htop --version
cap busy-info-dump 2 sh -c 'info --subnodes -o - ls | head -60'
cap busy-elinks-dump 3 elinks -dump notes.html
cap busy-nnn-version 2 nnn -V
cap busy-vifm-help 2 vifm --help
cap busy-calcurse-todo 2 env HOME=$H/calcurse calcurse -D $H/calcurse/data -t
cap busy-python-asyncio-gather 3 python3 -c 'import asyncio
async def job(n):
    print(f"job {n}: starting"); await asyncio.sleep(0.1); print(f"job {n}: done? yes")
async def main(): await asyncio.gather(*(job(i) for i in range(5)))
asyncio.run(main())'
cap busy-deno-fmt-check 6 sh -c 'printf "const  x=1\n" > fmt.ts; deno fmt --check fmt.ts'
cap busy-top-batch 3 top -b -n 1
cap busy-bash-xtrace 2 bash -xc 'n=3; for i in 1 2 3; do echo "step $i of $n: ok?"; done'
cap busy-make-dry-run 2 sh -c 'printf "all:\n\t@echo Building\n\t@echo Ready to install?\n" > Makefile && make'
