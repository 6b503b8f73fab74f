const term = require('terminal-kit').terminal;
const bar = term.progressBar({ width: 80, title: 'Downloading assets:', eta: true, percent: true });
bar.update(0.42);
term.grabInput(true);
