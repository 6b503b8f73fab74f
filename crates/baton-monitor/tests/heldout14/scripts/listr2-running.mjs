import { Listr } from 'listr2';
const tasks = new Listr([
  { title: 'Install dependencies', task: () => new Promise((r) => setTimeout(r, 300)) },
  { title: 'Build the bundle', task: () => new Promise(() => {}) },
]);
await tasks.run();
