#!/bin/bash
# Scratch for heldout12 captures: /tmp/cap12 (apt: ufw aspell aspell-en ispell pick fzy lf joe mg
# ne nload bmon newsboat irssi neomutt kakoune jed moc tasksel sc clisp ncftp lftp httpie;
# npm (in npm/): readline-sync prompt prompt-sync @inquirer/prompts ink@4 ink-select-input@5
# ink-text-input@5 react@18 consola cli-select; pip (--target py): urwid picotui pytermgui typer
# alive-progress). Library scripts in scripts/ (node ones copied into npm/ to find their modules).
set -e
cd /tmp/cap12/s
H=/tmp/cap12/home; mkdir -p $H/neomutt $H/irssi $H/newsboat $H/misc $H/moc $H/lf
printf 'The quikc brown fox jumps over the lazzy dog.\nSecond line is fine.\n' > typo.txt
cp typo.txt typo2.txt
for i in $(seq 1 200); do echo "line $i of the notes file"; done > notes.txt
