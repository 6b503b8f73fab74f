const cliProgress = require('cli-progress');
const bar = new cliProgress.SingleBar({}, cliProgress.Presets.shades_classic);
bar.start(200, 0);
let i = 0;
const t = setInterval(() => { i += 1; bar.update(i); if (i === 90) clearInterval(t); }, 5);
setTimeout(() => {}, 600000);
