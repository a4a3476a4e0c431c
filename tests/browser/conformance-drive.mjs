// Runs tests/conformance cases in headless Chromium for
// tests/browser/test_conformance_browser.py: one browser for the session,
// one page per case. Prints {"ready": true} once the browser is up, then
// reads one job per stdin line, {"url": PAGE_URL}, and answers one line:
// {"result": ADAPTER_OUTPUT | null, "error": TEXT | null, "console": [...]}
// (the console is the adapter's stderr: the sender logs with console.warn).
import { createInterface } from "node:readline";
import { launch } from "./chromium.mjs";

const context = await launch(process.argv[2]);
console.log(JSON.stringify({ ready: true }));
try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { url } = JSON.parse(line);
    const page = await context.newPage();
    const consoleLines = [];
    page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e}`));
    let answer;
    try {
      await page.goto(url, { waitUntil: "load" });
      await page.waitForFunction(() => window.__conformance, null, {
        timeout: 60000,
      });
      const got = await page.evaluate(() => window.__conformance);
      answer = { result: got.result ?? null, error: got.error ?? null };
    } catch (e) {
      answer = { result: null, error: String(e) };
    }
    await page.close();
    answer.console = consoleLines;
    console.log(JSON.stringify(answer));
  }
} finally {
  await context.close();
}
