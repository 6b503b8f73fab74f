const { Sort } = require('enquirer');
new Sort({ name: 'colors', message: 'Sort the steps in the order to run them', hint: 'Top is first, bottom is last', numbered: true, choices: ['lint', 'test', 'build', 'deploy'] }).run().then(console.log);
