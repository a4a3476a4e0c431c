// The senders' contract (tests/conformance/cases) in Node's test runner:
//
//     node --test runtimes/ts/test/
//
// one test per case, the steps run in this process by the compiled dist/
// (conformance-steps.mjs, as the Node adapter and headless Chromium run
// them), against the fake collector and the checks of tests/conformance
// (check_case.py: it plays the collector, then checks what the steps
// returned and the sender's log). python3 (standard library) runs it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as runtime from "../dist/index.js";
import { runCase } from "../conformance-steps.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const conformance = path.join(here, "..", "..", "..", "tests", "conformance");
const cases = readdirSync(path.join(conformance, "cases"))
  .filter((f) => f.endsWith(".json"))
  .sort();

for (const file of cases) {
  const casePath = path.join(conformance, "cases", file);
  test(file.replace(/\.json$/, ""), async () => {
    const kase = JSON.parse(readFileSync(casePath, "utf8"));
    const checker = spawn(
      process.env.REESTR_PYTHON || "python3",
      [path.join(conformance, "check_case.py"), casePath],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    checker.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise((resolve) => checker.on("close", resolve));
    const lines = createInterface({ input: checker.stdout });
    const [url] = await Promise.race([
      new Promise((resolve) => lines.once("line", (l) => resolve([l]))),
      exited.then(() => [null]),
    ]);
    assert.ok(url, `check_case.py did not start:\n${stderr}`);
    // the sender's default logger is console: its lines are the log
    const log = [];
    const warn = console.warn;
    console.warn = (...a) => log.push(a.join(" "));
    let got;
    try {
      got = await runCase(kase, url, runtime);
    } finally {
      console.warn = warn;
    }
    checker.stdin.end(JSON.stringify({ got, log: log.join("\n") }));
    const code = await exited;
    assert.equal(code, 0, stderr);
  });
}
