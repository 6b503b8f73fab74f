import { consola } from 'consola';
consola.info('Found an existing deployment for this project.');
const ok = await consola.prompt('Replace the existing deployment?', { type: 'confirm' });
console.log(ok);
