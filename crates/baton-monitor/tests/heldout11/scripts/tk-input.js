const term = require('terminal-kit').terminal;
term('Please enter your name: ');
term.inputField({}, () => process.exit());
