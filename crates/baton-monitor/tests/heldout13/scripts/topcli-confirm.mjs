import { confirm } from '@topcli/prompts';
const ok = await confirm('Initialize a git repository?', { initial: true });
console.log(ok);
