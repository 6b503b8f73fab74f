// Drives `baton web`'s page in headless Chromium (puppeteer-core), for
// crates/baton/tests/web.rs. It talks with the test over stdio: it prints
// `listed` once the page lists the sessions there were, waits for a line
// on stdin (the test has changed a session's state by then), and prints
// `receipt: …` after answering from the page, then `done`. Any failure
// exits non-zero with the reason on stderr.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// puppeteer-core as scripts/test.sh installed it (BATON_TEST_PUPPETEER).
const require = createRequire(process.env.BATON_TEST_PUPPETEER + "/");
const puppeteer = require("puppeteer-core");

const url = process.env.BATON_WEB_URL;
const shots = process.env.BATON_WEB_SHOTS;
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const say = (text) => process.stdout.write(text + "\n");

const browser = await puppeteer.launch({
  executablePath: process.env.BATON_TEST_CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  if (new URL(page.url()).search !== "") throw new Error("the token stayed in the address bar: " + page.url());
  await page.waitForSelector('#rows tr[data-id="hostile"]', { timeout: 10000 });

  // Agent output that looks like HTML stays text.
  await page.click('#rows tr[data-id="hostile"]');
  await page.waitForFunction(() => document.getElementById("output").textContent.includes("<img"), { timeout: 10000 });
  const injected = await page.evaluate(() => ({
    xss: window.__xss === 1,
    images: document.querySelectorAll("#detail img, #rows img").length,
    scripts: document.querySelectorAll("#detail script, #rows script").length,
    shown: document.getElementById("output").textContent,
  }));
  if (injected.xss || injected.images || injected.scripts) {
    throw new Error("agent output became HTML: " + JSON.stringify(injected));
  }
  if (!injected.shown.includes("<script>window.__xss=1</script>")) {
    throw new Error("the hostile output is not shown as text: " + injected.shown);
  }

  // A state change arrives without a reload.
  await page.evaluate(() => { window.__notReloaded = true; });
  say("listed");
  await nextLine();
  await page.waitForFunction(() => {
    const row = document.querySelector('#rows tr[data-id="asker"]');
    return row && row.querySelector(".state").textContent.startsWith("input_wait");
  }, { timeout: 15000 });
  if (!(await page.evaluate(() => window.__notReloaded === true))) throw new Error("the page reloaded");
  const first = await page.evaluate(() => document.querySelector("#rows tr").dataset.id);
  if (first !== "asker") throw new Error("what waits for a person is not first: " + first);

  // Answer from the page.
  await page.click('#rows tr[data-id="asker"]');
  await page.waitForFunction(() => document.getElementById("d-id").textContent === "asker");
  if (shots) await page.screenshot({ path: shots + "/web-phone.png" });
  await page.type("#answer-text", "y");
  await page.click('#answer button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("receipt").textContent.startsWith("delivered"), { timeout: 15000 });
  say("receipt: " + (await page.evaluate(() => document.getElementById("receipt").textContent)));

  // Leaving the phone's viewport reloads the page (puppeteer): the desktop
  // layout is shown with the answered session selected again.
  await page.setViewport({ width: 1280, height: 800, deviceScaleFactor: 1 });
  await page.waitForSelector('#rows tr[data-id="asker"]', { timeout: 10000 });
  await page.waitForFunction(() => !document.querySelector('#rows tr[data-id="asker"] .state').textContent.startsWith("input_wait"), { timeout: 15000 });
  await page.click('#rows tr[data-id="asker"]');
  await page.waitForFunction(() => document.getElementById("output").textContent.includes("deploying"), { timeout: 10000 });
  if (shots) await page.screenshot({ path: shots + "/web-desktop.png" });
  if (problems.length) throw new Error(problems.join("; "));
  say("done");
} finally {
  await browser.close();
  lines.close();
}
