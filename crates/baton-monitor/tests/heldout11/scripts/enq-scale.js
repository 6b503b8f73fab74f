const { Scale } = require('enquirer');
new Scale({ name: 'exp', message: 'Please rate your experience',
  scale: [{ name: '1', message: 'Strongly Disagree' }, { name: '2', message: 'Disagree' }, { name: '3', message: 'Neutral' }, { name: '4', message: 'Agree' }, { name: '5', message: 'Strongly Agree' }],
  choices: [{ name: 'interface', message: 'The website has a friendly interface.' }, { name: 'navigation', message: 'The website is easy to navigate.' }] }).run().then(console.log);
