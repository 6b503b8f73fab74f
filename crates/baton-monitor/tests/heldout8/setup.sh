#!/bin/bash
# Scratch state for the v8 captures (run once, as root, on Debian 12).
# Debian: p7zip-full cpio locales (and v7's); Python packages into /tmp/cap8/py
# (copier pip-autoremove), /tmp/cap7/py for flit and twine.
set -e
cd /tmp/cap8
rm -rf s home && mkdir -p s home/claude home/gemini home/codex home/yo && cd s
echo hello > f.txt && seq 1 2000 > big.txt && for i in $(seq 1 300); do cat big.txt; done > huge.txt
7z a -bd -bso0 a.7z f.txt && echo f.txt | cpio -o --quiet > a.cpio
dd if=/dev/zero of=blank.img bs=1M count=8 status=none
dd if=/dev/zero of=disk.img bs=1M count=8 status=none && printf 'label: dos\n,4MiB\n' | sfdisk -q disk.img
mkdir -p tmpl && printf 'project_name:\n  type: str\n  help: What is the project called?\nlicense:\n  type: str\n  choices: [MIT, Apache-2.0]\n' > tmpl/copier.yml && echo '{{ project_name }}' > tmpl/README.md.jinja
cp f.txt g.txt && echo changed > g2.txt && diff -u g.txt g2.txt > fix.patch || true && cp g2.txt applied.txt
mkdir -p wheel && printf '"""x"""\n__version__ = "0.1"\n' > wheel/pkgw.py && printf '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "flit_core.buildapi"\n[project]\nname = "pkgw"\ndynamic = ["version", "description"]\n' > wheel/pyproject.toml
(cd wheel && PYTHONPATH=/tmp/cap7/py /tmp/cap7/py/bin/flit build --format wheel >/dev/null 2>&1)
mkdir -p ut && printf 'import unittest\nclass T(unittest.TestCase):\n    def test_parse(self):\n        self.assertTrue(True)\n    def test_render(self):\n        self.assertEqual(1, 1)\n' > ut/test_ok.py
git init -q repo && cd repo && git config user.email t@e && git config user.name T && npm init -y >/dev/null && echo x > x && git add -A && git commit -qm x && echo y >> x && git add x && cd ..
mkdir -p ncu && printf '{"name":"ncu-demo","version":"1.0.0","dependencies":{"left-pad":"1.0.0","ms":"2.0.0"}}\n' > ncu/package.json
mkdir -p npm1 npm2 npm3 npm4 npm5 npm6 npm7
echo ok
