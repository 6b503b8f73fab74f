const Rawlist = require('prompt-rawlist');
const prompt = new Rawlist({ name: 'size', message: 'Which instance size?', choices: ['small', 'medium', 'large'] });
prompt.run().then((answer) => console.log(answer));
