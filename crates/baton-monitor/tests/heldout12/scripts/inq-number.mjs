import { number } from '@inquirer/prompts';
const answer = await number({ message: 'Port for the dev server', default: 5173 });
console.log(answer);
