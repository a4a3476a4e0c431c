// Drives Debian's chromium through playwright-core for
// tests/browser/test_browser.py. Reads a JSON job on argv[2]:
//   {"collector": URL, "profile": DIR,
//    "pages": {"name": {"url": URL, "run": ID, "leave": "navigate"|"close"}}}
// and, for each page: opens it, waits until its fetch settled, reads
// window.__reestr, then leaves it (navigating away, or closing the tab:
// either fires pagehide, and the page beacons) and reads, from the same
// origin, whether the beacon was queued. Prints one JSON object, a result
// per page, with the browser's console lines.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules =
  process.env.REESTR_NODE_MODULES ||
  path.join(here, "..", "..", "tools", "node", "node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");

const job = JSON.parse(process.argv[2]);
const context = await chromium.launchPersistentContext(job.profile, {
  executablePath: process.env.REESTR_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  timeout: 60000,
});
const out = {};
try {
  for (const [name, { url, run, leave }] of Object.entries(job.pages)) {
    const page = await context.newPage();
    const consoleLines = [];
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e}`));
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(
      () => window.__reestr && window.__reestr.done,
      null,
      { timeout: 30000 },
    );
    const state = await page.evaluate(() => window.__reestr);
    // pagehide: the page beacons as it goes
    const blank = new URL("/blank.html", url).href;
    let after = page;
    if (leave === "close") {
      await page.close({ runBeforeUnload: true });
      after = await context.newPage();
    }
    await after.goto(blank, { waitUntil: "load" });
    await after
      .waitForFunction(
        (k) => localStorage.getItem(k) !== null,
        `beaconQueued-${run}`,
        { timeout: 10000 },
      )
      .catch(() => {});
    state.beaconQueued = await after.evaluate(
      (k) => localStorage.getItem(k),
      `beaconQueued-${run}`,
    );
    state.console = consoleLines;
    out[name] = state;
    await after.close();
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
