console.log('? Select a template: react-ts (from --template)');
console.log('Scaffolding project in /srv/app...');
setTimeout(() => {}, 600000);
