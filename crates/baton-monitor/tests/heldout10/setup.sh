#!/bin/bash
# Scratch state for the v10 captures (run once, as root, on Debian 12).
# Debian: lz4 gnutls-bin ranger visidata bpython calcurse cmus nnn vifm htop elinks info encfs
# gocryptfs pinentry-curses; Python packages into /tmp/cap10/py (pip-review ipdb commitizen);
# npm packages into /tmp/cap10/npm (see captures.sh, and deno). It installs a tiny package, `batondemo`,
# for dpkg's configuration-file question (`dpkg --purge batondemo` afterwards) and gives user
# `nobody` a crontab (`crontab -u nobody -r` afterwards).
set -e
cd /tmp/cap10
rm -rf s home && mkdir -p s home/{gnupg,cz,calcurse,cmus,ranger,vd,vifm,bpy} && chmod 700 home/gnupg && cd s
echo hello > f.txt && seq 1 3000 > big.txt && lz4 -q f.txt f.txt.lz4
# dpkg: version 1.0 installed, its configuration file changed, 1.1 waiting to be installed.
for v in 1.0 1.1; do
  d=deb-$v && mkdir -p $d/DEBIAN $d/etc/batondemo
  printf 'Package: batondemo\nVersion: %s\nArchitecture: all\nMaintainer: T <t@e>\nDescription: baton capture demo\n' $v > $d/DEBIAN/control
  echo /etc/batondemo/demo.conf > $d/DEBIAN/conffiles && echo "level=$v" > $d/etc/batondemo/demo.conf
  dpkg-deb -b -Zgzip $d demo-$v.deb >/dev/null
done
dpkg -i demo-1.0.deb >/dev/null && echo 'level=mine' > /etc/batondemo/demo.conf
# pwck: a password file with a broken line.
printf 'root:x:0:0:root:/root:/bin/bash\nbroken line\n' > passwd && printf 'root:*:19000:0:99999:7:::\n' > shadow
echo '* * * * * true' | crontab -u nobody -
certtool --generate-privkey --outfile key.pem 2>/dev/null
mkdir -p raw crypt
export GNUPGHOME=/tmp/cap10/home/gnupg
gpg --batch --passphrase secret --quick-gen-key 'T <t@e>' default default 2>/dev/null
git init -q repo && cd repo && git config user.email t@e && git config user.name T && npm init -y >/dev/null && echo x > x && git add -A && git commit -qm x && echo y >> x && git add x && cd ..
for d in bump rel; do mkdir -p $d && (cd $d && git init -q && printf '{"name":"demo","version":"1.0.0"}\n' > package.json && git add -A && git -c user.email=t@e -c user.name=T commit -qm init); done
printf 'def f(x):\n    return x * 2\nimport ipdb; ipdb.set_trace()\nprint(f(2))\n' > dbg.py
printf '<html><body><h1>Release notes</h1><p>Version 2.3 fixes the parser.</p></body></html>\n' > notes.html
printf 'name,size\nalpha,3\nbeta,5\n' > t.csv
mkdir -p npm1 npm2 npm3 npm4 npm5 npm6 npm7 npm8 npm9 npm10 npm11 npm12
echo ok
