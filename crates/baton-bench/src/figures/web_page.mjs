// baton-bench's driver of `baton web`'s page in headless Chromium
// (puppeteer-core from BATON_TEST_PUPPETEER, Chromium at BATON_TEST_CHROMIUM).
// Prints `render MS` once the table lists BATON_BENCH_ROWS sessions (from
// just before the navigation), then `seen ID STATE EPOCH_MS` for every row
// whose state changes on the page, until stdin closes.
import { createRequire } from "node:module";
const require = createRequire(process.env.BATON_TEST_PUPPETEER + "/");
const puppeteer = require("puppeteer-core");
const rows = Number(process.env.BATON_BENCH_ROWS);
const browser = await puppeteer.launch({
  executablePath: process.env.BATON_TEST_CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 800 });
await page.exposeFunction("batonSeen", (id, state, at) => process.stdout.write(`seen ${id} ${state} ${at}\n`));
const started = Date.now();
await page.goto(process.env.BATON_WEB_URL, { waitUntil: "domcontentloaded" });
await page.waitForFunction((n) => document.querySelectorAll("#rows tr").length >= n, { timeout: 120000, polling: "mutation" }, rows);
process.stdout.write(`render ${Date.now() - started}\n`);
await page.evaluate(() => {
  const last = new Map();
  for (const tr of document.querySelectorAll("#rows tr")) last.set(tr.dataset.id, tr.children[1].textContent);
  new MutationObserver(() => {
    const at = Date.now();
    for (const tr of document.querySelectorAll("#rows tr")) {
      const state = tr.children[1].textContent;
      if (last.get(tr.dataset.id) !== state) {
        last.set(tr.dataset.id, state);
        window.batonSeen(tr.dataset.id, state, at);
      }
    }
  }).observe(document.getElementById("rows"), { childList: true, subtree: true, characterData: true });
});
process.stdin.resume();
await new Promise((resolve) => process.stdin.on("end", resolve));
await browser.close();
