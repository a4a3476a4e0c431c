// The conformance adapter (tests/conformance/README.md):
//
//     node conformance.mjs CASE_FILE COLLECTOR_URL
//
// runs the case's steps with this runtime's sender (the compiled dist/, as
// shipped) and prints what happened as one JSON object. The steps are
// conformance-steps.mjs, which headless Chromium runs too (tests/browser).
import { readFileSync } from "node:fs";
import * as runtime from "./dist/index.js";
import { runCase } from "./conformance-steps.mjs";

const [caseFile, url] = process.argv.slice(2);
const kase = JSON.parse(readFileSync(caseFile, "utf8"));
const got = await runCase(kase, url, runtime);
process.stdout.write(JSON.stringify(got) + "\n");
// a case may leave a sender unclosed: its timers must not keep us waiting
process.exit(0);
