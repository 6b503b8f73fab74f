const term = require('terminal-kit').terminal;
term.cyan('Which file do you want to open?\n');
term.singleColumnMenu(['config.yaml', 'README.md', 'src/main.rs'], () => process.exit());
