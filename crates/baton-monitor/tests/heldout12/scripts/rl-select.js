const readlineSync = require('readline-sync');
const regions = ['eu-central-1', 'us-east-1', 'ap-southeast-2'];
const index = readlineSync.keyInSelect(regions, 'Which region should host the bucket?');
console.log('Ok, ' + regions[index]);
