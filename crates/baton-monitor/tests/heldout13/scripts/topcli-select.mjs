import { select } from '@topcli/prompts';
const v = await select('Choose a license', { choices: ['MIT', 'Apache-2.0', 'ISC'] });
console.log(v);
