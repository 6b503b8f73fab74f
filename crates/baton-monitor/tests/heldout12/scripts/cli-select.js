const cliSelect = require('cli-select');
console.log('Which database driver?');
cliSelect({ values: ['postgres', 'mysql', 'sqlite'] }).then((r) => console.log(r.value));
