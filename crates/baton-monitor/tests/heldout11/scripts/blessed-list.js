const blessed = require('blessed');
const screen = blessed.screen({ smartCSR: true });
const box = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 3, content: 'Service monitor - 3 running', border: 'line' });
const list = blessed.list({ parent: screen, top: 3, left: 0, width: '100%', height: '90%', items: ['api      running  2d', 'worker   running  2d', 'cron     running  5h'], keys: true, border: 'line', style: { selected: { bg: 'blue' } } });
list.focus(); screen.key(['q'], () => process.exit()); screen.render();
