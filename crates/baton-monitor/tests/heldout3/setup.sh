#!/bin/bash
# Scratch state for the captures (run once).
set -e
cd /tmp/cap3
rm -rf s && mkdir s && cd s
echo hello > a.txt; cp a.txt b.txt; gzip -k a.txt; echo other > a.txt
mkdir z && (cd z && echo one > a.txt && zip -q ../x.zip a.txt)
mkdir dir && touch dir/f
ssh-keygen -q -t ed25519 -N '' -f ./existing
git init -q repo && cd repo && git config user.email t@e && git config user.name T
printf 'a\nb\nc\n' > f.txt && git add f.txt && git commit -qm one && printf 'a\nB\nc\n' > f.txt
cd .. && git init -q conflict && cd conflict && git config user.email t@e && git config user.name T
echo base > f && git add f && git commit -qm base && git checkout -qb other && echo theirs > f && git commit -qam theirs
git checkout -q - && echo ours > f && git commit -qam ours && (git merge other >/dev/null 2>&1 || true)
cd .. && git init -q conflict2 && cd conflict2 && git config user.email t@e && git config user.name T
echo base > f && git add f && git commit -qm base && git checkout -qb other && echo theirs > f && git commit -qam theirs
git checkout -q - && echo ours > f && git commit -qam ours
cd .. && printf 'import sys\nx = 1\nprint(x)\n' > prog.py
printf 'import unittest\nclass T(unittest.TestCase):\n    def test_ok(self): self.assertEqual(1, 1)\n    def test_bad(self): self.assertEqual(2 + 2, 5)\nunittest.main()\n' > t.py
mkdir inq && cd inq && npm init -y >/dev/null && npm install --silent @inquirer/prompts@7 >/dev/null 2>&1
cat > select.mjs <<'JS'
import { select } from '@inquirer/prompts';
await select({ message: 'Pick a package manager', choices: [{ value: 'npm' }, { value: 'yarn' }, { value: 'pnpm' }] });
JS
cat > checkbox.mjs <<'JS'
import { checkbox } from '@inquirer/prompts';
await checkbox({ message: 'Which features should be enabled?', choices: [{ value: 'TypeScript' }, { value: 'ESLint' }, { value: 'Prettier' }, { value: 'Vitest' }] });
JS
cat > confirm.mjs <<'JS'
import { confirm } from '@inquirer/prompts';
await confirm({ message: 'Deploy the preview now?' });
JS
cat > input.mjs <<'JS'
import { input } from '@inquirer/prompts';
await input({ message: 'Project name', default: 'my-app' });
JS
cd .. && cargo new -q --vcs none failing && cd failing && cat >> src/main.rs <<'RS'
#[cfg(test)]
mod tests {
    #[test]
    fn adds() { assert_eq!(2 + 2, 5, "arithmetic"); }
    #[test]
    fn fine() {}
}
RS
cd .. && cargo new -q --vcs none withdeps && cd withdeps && printf 'serde = { version = "1", features = ["derive"] }\nserde_json = "1"\nregex = "1"\n' >> Cargo.toml
cd .. && printf 'all:\n\t@echo "building libfoo"\n\tcc -c -o /tmp/cap3/s/foo.o -x c - <<< "int foo(void){return 1;}" || true\n\t@echo "linking"\n\t@echo done\n' > Makefile
echo ok
