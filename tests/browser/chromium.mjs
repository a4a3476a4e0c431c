// Debian's chromium, headless, through playwright-core (tools/node): the
// one launch the browser tests' drivers share.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules =
  process.env.REESTR_NODE_MODULES ||
  path.join(here, "..", "..", "tools", "node", "node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");

/** A persistent context (its own profile folder: localStorage survives
 * between the pages of one origin). */
export function launch(profile) {
  return chromium.launchPersistentContext(profile, {
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
}
