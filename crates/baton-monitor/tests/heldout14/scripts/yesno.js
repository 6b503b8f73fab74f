const yesno = require('yesno');
(async () => {
  const ok = await yesno({ question: 'The schema changed. Regenerate the client? (y/n)' });
  console.log(ok);
})();
