#!/bin/bash
# Scratch state for the v9 captures (run once, as root, on Debian 12).
# Debian: zsh mutt nethack-console unison borgbackup restic rclone age apache2-utils whois gdisk
# trash-cli tig lynx w3m fish gnuplot-nox git-email; Python packages into /tmp/cap9/py
# (huggingface_hub llm jrnl khal thefuck certbot bullet pudb ptpython textual litecli inquirer);
# npm packages into /tmp/cap9/npm (see captures.sh).
set -e
cd /tmp/cap9
rm -rf s home && mkdir -p s home/{zsh,mutt,nethack,trash,hf,llm,jrnl,khal,pudb,fish,borg} && cd s
echo hello > f.txt && seq 1 3000 > big.txt
mkdir -p rmstar && touch rmstar/a rmstar/b rmstar/c
# An ext4 image whose root names an inode that was cleared.
dd if=/dev/zero of=fs.img bs=1M count=8 status=none && mkfs.ext4 -q -F fs.img
debugfs -w -R "mkdir d" fs.img 2>/dev/null && debugfs -w -R "clri d" fs.img 2>/dev/null
# A disk with a valid MBR and a valid GPT that disagree.
dd if=/dev/zero of=gpt.img bs=1M count=8 status=none && sgdisk -q -o -n 1:2048:4095 gpt.img
printf 'label: dos\n2048,2048,83\n' | sfdisk -q --wipe never gpt.img
# A file in the trash.
touch t1 && HOME=/tmp/cap9/home/trash trash-put t1
mkdir -p ua ub && echo x > ua/one.txt
BORG_PASSPHRASE=x borg init -e repokey borg2 2>/dev/null
mkdir -p rclone
git init -q repo && cd repo && git config user.email t@e && git config user.name T && npm init -y >/dev/null && echo x > x && git add -A && git commit -qm x && echo y >> x && git add x && git format-patch -q -1 HEAD --stdout > ../one.patch && cd ..
printf 'console.log(Deno.readTextFileSync("/etc/hostname"));\n' > perm.ts
printf 'from bullet import Bullet\ncli = Bullet(prompt="Which region should the bucket live in?", choices=["eu-west-1", "us-east-1", "ap-south-1"])\nprint(cli.launch())\n' > bullet_menu.py
printf 'import inquirer\nprint(inquirer.list_input("Which database engine?", choices=["postgres", "mysql", "sqlite"]))\n' > inquirer_menu.py
printf 'x = 1\nprint(x)\n' > dbg.py
printf 'module.exports = function (plop) {\n  plop.setGenerator("component", {\n    description: "a component",\n    prompts: [{ type: "input", name: "name", message: "Component name" }],\n    actions: [],\n  });\n};\n' > plopfile.js
mkdir -p npm1 npm2 npm3 npm4 npm5 npm6 npm7 npm8
for d in cs taze; do mkdir -p $d && (cd $d && git init -q && printf '{"name":"demo","version":"1.0.0","dependencies":{"ms":"2.0.0"}}\n' > package.json && git add -A && git -c user.email=t@e -c user.name=T commit -qm init); done
printf '<html><body><h1>Release notes</h1><p>Version 2.3 fixes the parser.</p><ul><li>faster</li><li>smaller</li></ul></body></html>\n' > notes.html
echo ok
