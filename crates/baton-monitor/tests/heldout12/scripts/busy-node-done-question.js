console.log('Migrating 3 tables...');
console.log('users ok');
console.log('orders ok');
console.log('Why is orders so slow? Look at its indexes.');
setTimeout(() => {}, 600000);
