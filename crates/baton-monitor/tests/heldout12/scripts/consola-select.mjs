import { consola } from 'consola';
const pm = await consola.prompt('Pick a package manager.', { type: 'select', options: ['npm', 'pnpm', 'yarn', 'bun'] });
console.log(pm);
