const Password = require('prompt-password');
const prompt = new Password({ type: 'password', message: 'Enter the deploy key passphrase', name: 'password' });
prompt.run().then((answer) => console.log(answer.length));
