import { search } from '@inquirer/prompts';
const pkgs = ['react', 'react-dom', 'redux', 'rxjs', 'ramda'];
const answer = await search({
  message: 'Select an npm package',
  source: async (input) => pkgs.filter((p) => !input || p.includes(input)).map((p) => ({ name: p, value: p })),
});
console.log(answer);
