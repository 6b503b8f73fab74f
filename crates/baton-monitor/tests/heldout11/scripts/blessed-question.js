const blessed = require('blessed');
const screen = blessed.screen({ smartCSR: true });
const q = blessed.question({ parent: screen, border: 'line', height: 'shrink', width: 'half', top: 'center', left: 'center', label: ' {blue-fg}Question{/blue-fg} ', tags: true, keys: true });
q.ask('Discard the unsaved changes to notes.md?', () => process.exit());
screen.render();
