import inquirer
inquirer.prompt([inquirer.List('size', message="What size do you need?", choices=['Jumbo', 'Large', 'Standard'])])
