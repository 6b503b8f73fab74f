import * as p from '@clack/prompts';
p.intro('deploy');
p.note('3 services changed\n2 migrations pending', 'Plan');
await p.confirm({ message: 'Apply the plan to production?' });
