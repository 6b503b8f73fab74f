const List = require('prompt-list');
const list = new List({ name: 'order', message: 'What would you like to order?', choices: ['Coke', 'Diet Coke', 'Cherry Coke'] });
list.run().then((answer) => console.log(answer));
