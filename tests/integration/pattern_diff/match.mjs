// Reads [{"re": spelling, "v": [values]}] (JSON) on stdin and writes, for
// each, whether new RegExp(spelling, "u").test accepts each value (as the
// TypeScript langpack's /spelling/u literal does): the JavaScript side of
// tests/integration/test_patterns.py. A spelling JavaScript refuses is
// "error: ...".
import { readFileSync } from "node:fs";

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  let re;
  try {
    re = new RegExp(c.re, "u");
  } catch (e) {
    return `error: ${e.message}`;
  }
  return c.v.map((v) => re.test(v));
});
process.stdout.write(JSON.stringify(out) + "\n");
