// Drives Debian's chromium (chromium.mjs) for tests/browser/test_browser.py.
// Reads a JSON job on argv[2]:
//   {"profile": DIR,
//    "pages": {"name": {"url": URL, "run": ID, "leave": "navigate"|"close"}}}
// and, for each page: opens it, waits until its sends settled, reads
// window.__reestr, then leaves it (navigating away, or closing the tab:
// either fires pagehide, and the page beacons) and reads, from the same
// origin, the outcomes the page's sender reported (localStorage
// `results-RUN`, the beacon's included). Prints one JSON object, a result
// per page, with the browser's console lines.
import { launch } from "./chromium.mjs";

const job = JSON.parse(process.argv[2]);
const context = await launch(job.profile);
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
    const key = `results-${run}`;
    await after
      .waitForFunction(
        ([k, n]) => JSON.parse(localStorage.getItem(k) || "[]").length > n,
        [key, state.results.length],
        { timeout: 10000 },
      )
      .catch(() => {});
    state.resultsAfter = JSON.parse(
      await after.evaluate((k) => localStorage.getItem(k) || "[]", key),
    );
    state.console = consoleLines;
    out[name] = state;
    await after.close();
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
