const Checkbox = require('prompt-checkbox');
const prompt = new Checkbox({ name: 'colors', message: 'Which features should be enabled?', choices: ['auth', 'billing', 'search'] });
prompt.run().then((answers) => console.log(answers));
