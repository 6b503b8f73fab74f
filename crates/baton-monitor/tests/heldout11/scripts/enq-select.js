const { Select } = require('enquirer');
new Select({ name: 'color', message: 'Pick a deployment region', choices: ['eu-west-1', 'us-east-1', 'ap-south-1'] }).run().then(console.log);
