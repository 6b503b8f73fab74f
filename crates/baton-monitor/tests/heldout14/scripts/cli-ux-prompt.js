const { cli } = require('cli-ux');
(async () => {
  const name = await cli.prompt('What is the name of the app');
  console.log(name);
})();
