const readlineSync = require('readline-sync');
console.log('3 stale caches found in ~/.cache/app');
if (readlineSync.keyInYN('Do you want to delete them?')) { console.log('deleted'); }
