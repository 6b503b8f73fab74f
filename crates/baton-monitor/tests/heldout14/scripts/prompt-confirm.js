const Confirm = require('prompt-confirm');
const prompt = new Confirm('Deploy to production now?');
prompt.run().then((answer) => console.log(answer));
