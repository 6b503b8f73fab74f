import * as p from '@clack/prompts';
p.intro('create-my-app');
const r = await p.group({
  path: () => p.text({ message: 'Where should we create your project?', placeholder: './sparkling-solid' }),
});
