import * as p from '@clack/prompts';
p.intro('setup');
await p.multiselect({ message: 'Select additional tools.', options: [{ value: 'eslint', label: 'ESLint', hint: 'recommended' }, { value: 'prettier', label: 'Prettier' }, { value: 'gh-action', label: 'GitHub Action' }], required: false });
