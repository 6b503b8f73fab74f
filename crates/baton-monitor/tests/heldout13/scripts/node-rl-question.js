const readline = require('node:readline');
const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
console.log('Creating a new migration.');
rl.question('Migration name? ', (name) => { console.log(`created ${name}`); rl.close(); });
