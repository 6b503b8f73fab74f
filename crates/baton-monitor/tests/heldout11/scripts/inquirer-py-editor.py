import inquirer
inquirer.prompt([inquirer.Text('name', message="What's your name"), ])
