const { Snippet } = require('enquirer');
new Snippet({ name: 'pkg', message: 'Fill out the fields in package.json', required: true,
  fields: [{ name: 'author_name', message: 'Author Name' }],
  template: `{\n  "name": "\${name}",\n  "description": "\${description}",\n  "version": "\${version}"\n}\n` }).run().then(console.log);
