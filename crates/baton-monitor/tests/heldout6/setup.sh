#!/bin/bash
# Scratch state for the v6 captures (run once, as root, on Debian 12).
set -e
cd /tmp/cap6
rm -rf s && mkdir s && cd s
pip install -q --no-cache-dir --target /tmp/cap6/py questionary inquirerpy pick simple-term-menu keyring pdm rich >/dev/null 2>&1
echo hello > f.txt; for i in 1 2 3 4 5; do echo $i > n$i.txt; done
printf 'a\nb\nc\n' > list.txt
tar -cf x.tar f.txt && mkdir untar
git init -q repo && cd repo && git config user.email t@e && git config user.name T
echo one > f.txt && git add f.txt && git commit -qm one && echo two >> f.txt && git commit -qam two
git format-patch -q -1 -o ../patches && git reset -q --hard HEAD~1
cd .. && git init -q fb && cd fb && git config user.email t@e && git config user.name T && echo x > x && git add x && git commit -qm x
cd .. && dd if=/dev/zero of=disk.img bs=1M count=8 status=none && mkfs.ext4 -q -F disk.img
openssl genpkey -algorithm ed25519 -aes-128-cbc -pass pass:secret -out enc.pem 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f ./key
mkdir -p npm1 npm2 npm3 npm4 npm5 pdm-proj && (cd npm5 && npm init -y >/dev/null)
echo ok
