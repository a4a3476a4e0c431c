// Drives Debian's chromium (chromium.mjs) through what the catalogue shows
// of the collector's data (docs/catalogue.md, "Deviations, unused versions
// and live figures") for tests/browser/test_catalogue_browser.py. Reads a
// JSON job on argv[2]:
//   {"profile": DIR, "served": URL of `reestr serve --deviations-every 1s`'s /,
//    "events": the batch to POST (one breaks a range rule),
//    "shots": DIR for screenshots, "axe": path of axe.min.js}
// and prints one JSON object: what each step saw, axe's violations and the
// browser's console lines. With "docs": DIR (UPDATE_SCREENSHOTS=1), it also
// writes the screenshots docs/governance.md shows, 1000 px wide.
// With "compare": {"served": URL, "static": file:// URL of `reestr docs
// --data`'s index.html, "routes": [...]}, it only opens each route on both
// and prints {"served": {route: text}, "static": {...}, "as_of": ...,
// "console": [...]}: the pages' text with the data shown.
import { readFileSync } from "node:fs";
import path from "node:path";
import { launch } from "./chromium.mjs";

const job = JSON.parse(process.argv[2]);
const context = await launch(job.profile);
const out = { steps: {}, axe: {}, console: [] };
const axeSource = readFileSync(job.axe, "utf8");

async function open(page, url) {
  await page.goto("about:blank");
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("main")?.dataset.routed, null, { timeout: 15000 });
  await page.waitForTimeout(150);
}

const rows = (page) => page.$$eval("#events tbody tr", (trs) => trs.map((t) => t.dataset.event));

async function axe(page, name) {
  await page.evaluate(axeSource);
  out.axe[name] = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
}

async function checked(page, name) {
  await page.check("#filter-" + name);
  await page.waitForTimeout(150);
  const r = await rows(page);
  await page.uncheck("#filter-" + name);
  return r;
}

async function compare(page) {
  const texts = { served: {}, static: {}, as_of: { served: {}, static: {} }, console: out.console };
  for (const [name, base] of [["served", job.compare.served], ["static", job.compare.static]]) {
    for (const route of job.compare.routes) {
      await open(page, base + route);
      texts[name][route] = await page.$eval("#main", (m) => m.innerText);
      texts.as_of[name][route] = await page.$eval("#as-of", (p) => p.textContent).catch(() => null);
    }
  }
  if (job.docs) {
    await page.setViewportSize({ width: 1000, height: 640 });
    await open(page, job.compare.static + "#/event/checkout_started");
    await page.screenshot({ path: path.join(job.docs, "catalogue-static-data.png") });
  }
  return texts;
}

try {
  const page = await context.newPage();
  if (job.compare) {
    page.on("pageerror", (e) => out.console.push(`pageerror: ${e}`));
    console.log(JSON.stringify(await compare(page)));
    await context.close();
    process.exit(0);
  }
  page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => out.console.push(`pageerror: ${e}`));
  await page.setViewportSize({ width: 1280, height: 900 });

  // before any bad data: no deviation, the never-sent versions unused
  await open(page, job.served);
  await page.waitForSelector("#events tbody tr");
  out.steps["deviations before"] = (await page.$("#filter-deviations"))
    ? await checked(page, "deviations") : null;
  out.steps.unused = await checked(page, "unused");

  // bad data, then the collector's scheduled evaluation finds it
  const sent = await fetch(new URL("v1/events", job.served), {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ events: job.events }),
  });
  out.steps.sent = [sent.status, await sent.json()];
  const deadline = Date.now() + 30000;
  let found = [];
  while (Date.now() < deadline) {
    const r = await fetch(new URL("v1/deviations?status=open", job.served));
    found = (await r.json()).deviations.filter((d) => d.kind === "range");
    if (found.length) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  out.steps["evaluated"] = found.map((d) => d.event);

  // reload: the deviation is counted and the filter finds its event
  await open(page, job.served);
  await page.waitForSelector("#events tbody tr");
  out.steps["deviations after"] = await checked(page, "deviations");
  await page.check("#filter-deviations");
  await page.waitForTimeout(150);
  out.steps["filter in the address"] = new URL(page.url()).hash;
  out.steps.badges = await page.$$eval("#events tbody tr .badge.deviation", (b) => b.map((x) => x.textContent));
  await page.screenshot({ path: path.join(job.shots, "catalogue-deviations.png"), fullPage: true });
  await axe(page, "catalogue");
  if (job.docs) {
    // the unused filter, for docs/governance.md
    await page.uncheck("#filter-deviations");
    await page.check("#filter-unused");
    await page.setViewportSize({ width: 1000, height: 420 });
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(job.docs, "governance-unused.png") });
    await page.uncheck("#filter-unused");
    await page.check("#filter-deviations");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.waitForTimeout(150);
  }

  // the event's page lists its deviations and live figures
  await page.click('#events a[href="#/event/checkout_started"]');
  await page.waitForSelector("#deviations");
  out.steps["event deviations"] = await page.$$eval("#deviation-list tbody tr", (trs) =>
    trs.map((t) => [...t.cells].map((c) => c.textContent)));
  out.steps["live figures"] = await page.$$eval("#live-figures tbody tr", (trs) =>
    trs.map((t) => [...t.cells].map((c) => c.textContent)));
  out.steps["reasons"] = await page.$$eval("#reasons > li", (li) => li.map((x) => x.textContent));
  out.steps["samples"] = await page.$$eval("#reasons .samples code", (c) => c.map((x) => x.textContent));
  await page.locator("#deviations").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(job.shots, "event-deviations.png"), fullPage: true });
  await axe(page, "event");
  if (job.docs) {
    // a deviation on its event's page, for docs/governance.md
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.waitForTimeout(150);
    await page.locator("#deviations").screenshot({ path: path.join(job.docs, "governance-deviation.png") });
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  // an unused event's page: its evidence
  await open(page, job.served + "#/event/legacy_ping");
  out.steps["unused evidence"] = await page.$$eval("#unused li", (li) => li.map((x) => x.textContent));
  // beside it, the exact YAML edit to review and commit
  out.steps.decommission = await page.$$eval("#unused .decommission", (ds) =>
    ds.map((d) => ({
      version: d.dataset.version,
      command: d.querySelector("p code").textContent,
      diff: d.querySelector("pre code") ? d.querySelector("pre code").textContent : null,
    })));
  if (job.docs) {
    await page.locator("#unused").screenshot({ path: path.join(job.docs, "governance-decommission.png") });
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
