const term = require('terminal-kit').terminal;
term('Do you like this library? [Y|n]\n');
term.yesOrNo({ yes: ['y', 'ENTER'], no: ['n'] }, () => process.exit());
