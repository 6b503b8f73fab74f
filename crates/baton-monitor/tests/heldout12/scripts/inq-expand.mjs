import { expand } from '@inquirer/prompts';
const answer = await expand({
  message: 'Conflict on src/index.ts:',
  default: 'y',
  choices: [
    { key: 'y', name: 'Overwrite', value: 'overwrite' },
    { key: 'a', name: 'Overwrite this one and all next', value: 'overwrite_all' },
    { key: 'd', name: 'Show diff', value: 'diff' },
    { key: 'x', name: 'Abort', value: 'abort' },
  ],
});
console.log(answer);
