#!/bin/bash
# name seconds command... (run in /tmp/cap8/s after setup.sh; nothing typed)
cd /tmp/cap8/s
C=/tmp/cap8/capture.py   # ../heldout7/capture.py, copied there
O=/tmp/cap8/out; mkdir -p $O
export PYTHONPATH=/tmp/cap8/py:/tmp/cap7/py PATH=/tmp/cap8/py/bin:/tmp/cap7/py/bin:$PATH
CLIS=/root/.cache/baton-test/agent-clis-claude2.1.197-gemini0.61.0-codex0.171.0/node_modules/.bin
cap() { n=$1; t=$2; shift 2; python3 $C $O/$n.txt $t "$@"; }
# --- waits
cap wait-7z-replace 2 7z x a.7z
cap wait-cpio-rename 2 sh -c 'cpio -ir < a.cpio'
cap wait-cfdisk-label-type 2 cfdisk blank.img
cap wait-debconf-dialog-tzdata 4 env DEBIAN_FRONTEND=dialog dpkg-reconfigure tzdata
cap wait-debconf-readline-locales 4 env DEBIAN_FRONTEND=readline dpkg-reconfigure locales
cap wait-copier-questions 6 copier copy --trust tmpl out1
cap wait-pip-autoremove 4 pip-autoremove copier
cap wait-twine-upload-credentials 6 twine upload --repository-url http://127.0.0.1:9/ wheel/dist/pkgw-0.1-py2.py3-none-any.whl
cap wait-patch-reversed 2 patch applied.txt fix.patch
cap wait-claude-first-run 10 env HOME=/tmp/cap8/home/claude $CLIS/claude
cap wait-gemini-first-run 12 env HOME=/tmp/cap8/home/gemini $CLIS/gemini
cap wait-codex-first-run 10 env HOME=/tmp/cap8/home/codex $CLIS/codex
cap wait-angular-new 60 env -C npm1 npx --yes @angular/cli@latest new
cap wait-nest-new 45 env -C npm2 npx --yes @nestjs/cli@latest new
cap wait-create-gatsby 45 env -C npm3 npx --yes create-gatsby@latest
cap wait-yo-first-run 45 env -C npm4 HOME=/tmp/cap8/home/yo npx --yes yo@latest
cap wait-gitmoji-commit 40 env -C repo npx --yes gitmoji-cli@latest -c
cap wait-ncu-interactive 40 env -C ncu npx --yes npm-check-updates@latest -i
cap wait-create-llama 45 env -C npm5 npx --yes create-llama@latest
cap wait-create-analog 40 env -C npm6 npx --yes create-analog@latest
cap wait-create-strapi 60 env -C npm7 npx --yes create-strapi@latest
# --- busy
cap busy-npx-envinfo 30 npx --yes envinfo
cap busy-python-pydoc-search 6 python3 -m pydoc -k base64
cap busy-python-json-tool 2 sh -c "echo '{\"ready\": true, \"question\": \"proceed?\"}' | python3 -m json.tool"
cap busy-perl-config 2 sh -c "perl -V | head -40"
cap busy-perl-tap-output 2 perl -MTest::More -e 'ok(1, "parses"); ok(0, "renders?"); done_testing'
cap busy-sqlite3-select 2 sqlite3 :memory: "select 1, 'Ready?'"
cap busy-blkid 2 blkid disk.img
cap busy-sfdisk-list 2 sfdisk -l disk.img
cap busy-findmnt 2 findmnt
cap busy-w-who 2 w
cap busy-apt-cache-depends 2 apt-cache depends git
cap busy-dpkg-search 2 dpkg -S /bin/ls
cap busy-debconf-show-tzdata 2 debconf-show tzdata
cap busy-apt-config-dump 2 sh -c "apt-config dump | head -40"
cap busy-npm-doctor 30 npm doctor
cap busy-cargo-pkgid 3 cargo pkgid --manifest-path /work/main/crates/baton-proto/Cargo.toml
cap busy-rustup-components 3 sh -c "rustup component list | head -30"
cap busy-pip-wheel-building 10 python3 -m pip wheel --no-cache-dir --no-binary :all: --no-deps termcolor -w /tmp/cap8/wheels
cap busy-wget-progress 6 wget -O /dev/null https://registry.npmjs.org/react
cap busy-xz-verbose-progress 4 xz -v -k -f -T1 -9 huge.txt
cap busy-python-unittest-verbose 3 python3 -m unittest discover -v -s ut
cap busy-tail-dpkg-log 2 tail -n 30 /var/log/dpkg.log
cap busy-gh-environment-help 2 env HOME=/tmp/cap8/home gh help environment
cap busy-7z-list 2 7z l a.7z
cap busy-cpio-list 2 sh -c 'cpio -itv < a.cpio'
cap busy-patch-applied 2 sh -c 'cp g.txt p.txt && patch p.txt fix.patch'
cap busy-claude-help 8 env HOME=/tmp/cap8/home/claude $CLIS/claude --help
cap busy-codex-help 8 env HOME=/tmp/cap8/home/codex $CLIS/codex --help
cap busy-gemini-help 10 env HOME=/tmp/cap8/home/gemini $CLIS/gemini --help
