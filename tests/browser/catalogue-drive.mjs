// Drives Debian's chromium (chromium.mjs) through the catalogue's pages
// for tests/browser/test_catalogue_browser.py. Reads a JSON job on argv[2]:
//   {"profile": DIR, "served": URL of `reestr serve`'s /,
//    "static": file:// URL of `reestr docs`'s index.html,
//    "shots": DIR for screenshots, "axe": path of axe.min.js}
// and prints one JSON object: what each step saw, every page's text on
// both sites (by route), the links found, axe's violations, and the
// browser's console lines.
import { readFileSync } from "node:fs";
import path from "node:path";
import { launch } from "./chromium.mjs";

const job = JSON.parse(process.argv[2]);
const context = await launch(job.profile);
const out = { steps: {}, served: {}, static: {}, links: {}, axe: {}, console: [] };
const axeSource = readFileSync(job.axe, "utf8");

async function open(page, url) {
  const before = await page
    .evaluate(() => document.getElementById("main")?.dataset.routed || "0")
    .catch(() => "0");
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(
    (b) => {
      const m = document.getElementById("main");
      return m && m.dataset.routed && m.dataset.routed !== b;
    },
    before,
    { timeout: 15000 },
  ).catch(() => {});
  await page.waitForFunction(
    () => document.getElementById("main")?.dataset.routed,
    null,
    { timeout: 15000 },
  );
}

const rows = (page) =>
  page.$$eval("#events tbody tr", (trs) => trs.map((t) => t.dataset.event));

async function settle(page) {
  await page.waitForTimeout(150);
}

async function axe(page, name) {
  // evaluated, not added as a <script>: the collector's
  // Content-Security-Policy refuses inline scripts, as it should
  await page.evaluate(axeSource);
  const r = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ["violations"] });
    return res.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  out.axe[name] = r;
}

try {
  const page = await context.newPage();
  page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => out.console.push(`pageerror: ${e}`));
  await context.grantPermissions(["clipboard-read", "clipboard-write"], {
    origin: new URL(job.served).origin,
  });
  await page.setViewportSize({ width: 1280, height: 900 });

  // the catalogue
  await open(page, job.served);
  await page.waitForSelector("#events tbody tr");
  out.steps.all = await rows(page);
  await page.screenshot({ path: path.join(job.shots, "catalogue.png"), fullPage: true });
  await axe(page, "catalogue");

  // search: by a field's path, by a description's word, by a name
  for (const q of ["currency", "anonymous", "payment"]) {
    await page.fill("#search", q);
    await settle(page);
    out.steps["search " + q] = await rows(page);
  }
  await page.fill("#search", "");
  // filters
  for (const [name, value] of [
    ["owner", "payments"],
    ["environment", "front"],
    ["status", "deprecated"],
    ["source", "billing-worker"],
  ]) {
    await page.selectOption("#filter-" + name, value);
    await settle(page);
    out.steps[`filter ${name}=${value}`] = await rows(page);
    await page.selectOption("#filter-" + name, "");
  }
  await page.selectOption("#filter-owner", "marketplace");
  await page.fill("#search", "item");
  await settle(page);
  out.steps["search item, owner marketplace"] = await rows(page);
  out.steps["filters in the address"] = new URL(page.url()).hash;
  await page.screenshot({ path: path.join(job.shots, "search.png"), fullPage: true });

  // an event: open it from the list, switch versions, a diff, copy
  await page.click('#events a[href="#/event/item_click"]');
  await page.waitForSelector("#fields table");
  const fieldPaths = () =>
    page.$$eval("#fields tbody tr", (trs) => trs.map((t) => t.dataset.field));
  out.steps["event fields"] = await fieldPaths();
  await page.click('button[data-version="0"]');
  await settle(page);
  out.steps["v0 fields"] = await fieldPaths();
  out.steps["v0 pressed"] = await page.getAttribute('button[data-version="0"]', "aria-pressed");
  out.steps["side by side"] = await page.$$eval("#side-by-side section", (s) =>
    s.map((x) => `${x.dataset.version}:${x.className}`));
  await page.screenshot({ path: path.join(job.shots, "event.png"), fullPage: true });
  await page.selectOption("#diff-from", "0");
  await page.selectOption("#diff-to", "1");
  await settle(page);
  out.steps.diff = await page.$$eval("#diff li", (li) => li.map((x) => x.textContent));
  out.steps["diff classes"] = await page.$$eval("#diff li", (li) => li.map((x) => x.className));
  await page.locator("#diff").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(job.shots, "diff.png") });
  await page.click('#examples button.copy[data-lang="python"]');
  await settle(page);
  out.steps.copied = await page.evaluate(() => navigator.clipboard.readText());
  out.steps["copy button"] = await page.textContent('#examples button.copy[data-lang="python"]');
  out.steps["python example shown"] = await page.textContent('#examples section[data-lang="python"] pre');
  await axe(page, "event");

  // every page of both sites, following every link from the catalogue:
  // a link to a page that does not exist is a broken link
  async function crawl(base, into) {
    const seen = new Set(["#/"]);
    const queue = ["#/"];
    while (queue.length) {
      const route = queue.shift();
      await open(page, base + route);
      await settle(page);
      // what the collector's data says (deviations, unused versions,
      // live figures: data-store) the static site has not: compared
      // without it (catalogue-gov-drive.mjs checks it)
      await page.evaluate(() =>
        document.querySelectorAll("[data-store]").forEach((e) => e.style.setProperty("display", "none")));
      const text = await page.$eval("#main", (m) => m.innerText);
      const title = await page.$eval("#main h1", (h) => h.textContent).catch(() => "");
      into[route] = { text, title };
      const hrefs = await page.$$eval("a[href]", (as) => as.map((a) => a.getAttribute("href")));
      for (const href of hrefs) {
        out.links[href] = (out.links[href] || 0) + 1;
        const r = href.startsWith("#") ? href.split("?")[0] : null;
        if (r && !seen.has(r)) {
          seen.add(r);
          queue.push(r);
        }
      }
    }
  }
  await crawl(job.served, out.served);
  await crawl(job.static, out.static);
  await open(page, job.static + "#/owners");
  await page.screenshot({ path: path.join(job.shots, "static-owners.png"), fullPage: true });
  await axe(page, "owners");
  // axe itself finds what it should: an image without alt text, an
  // unlabelled field
  await page.setContent('<!doctype html><html><body><img src="data:,"><input></body></html>');
  await axe(page, "known bad");
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
