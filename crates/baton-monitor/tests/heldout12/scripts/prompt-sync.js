const prompt = require('prompt-sync')();
console.log('Scaling the worker pool.');
const n = prompt('How many workers should run? ');
console.log(`running ${n}`);
