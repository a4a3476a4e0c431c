// The conformance adapter (tests/conformance/README.md):
//
//     node conformance.mjs CASE_FILE COLLECTOR_URL
//
// runs the case's steps with this runtime's sender (the compiled dist/, as
// shipped) and prints what happened as one JSON object.
import { readFileSync } from "node:fs";
import { Event, Sender } from "./dist/index.js";

/** The contract's test event: id 1, version 0, one int field n. */
class ConformanceEvent extends Event {
  constructor(n) {
    super();
    this.n = n;
  }
  get eventId() {
    return 1;
  }
  get eventVersion() {
    return 0;
  }
  get eventName() {
    return "conformance_event";
  }
  validate() {}
  encodeFields() {
    return `{"n":${this.n}}`;
  }
}

const [caseFile, url] = process.argv.slice(2);
const kase = JSON.parse(readFileSync(caseFile, "utf8"));
const cfg = kase.config ?? {};
const options = {};
for (const [key, name] of [
  ["batch_size", "batchSize"],
  ["max_batch_bytes", "maxBatchBytes"],
  ["queue_capacity", "queueCapacity"],
  ["max_attempts", "maxAttempts"],
  ["batch_age_ms", "batchAgeMs"],
  ["backoff_base_ms", "backoffBaseMs"],
  ["backoff_max_ms", "backoffMaxMs"],
  ["request_timeout_ms", "requestTimeoutMs"],
]) {
  if (key in cfg) options[name] = cfg[key];
}
const byUuid = new Map();
const sender = new Sender({
  collectorUrl: url,
  source: "conformance-adapter",
  environment: "conformance",
  onResult: (r) => byUuid.set(r.uuid, r),
  ...options,
});
const uuids = [];
const returns = [];
const flushOk = [];
const checkpoints = {};
for (const step of kase.steps) {
  if ("send" in step) {
    for (let i = 0; i < step.send; i++) {
      const e = new ConformanceEvent(uuids.length);
      uuids.push(e.eventUuid);
      returns.push(sender.send(e));
    }
  } else if ("sleep_ms" in step) {
    await new Promise((r) => setTimeout(r, step.sleep_ms));
  } else if ("flush" in step) {
    flushOk.push(await sender.flush());
  } else if ("close" in step) {
    flushOk.push(await sender.close());
  } else if ("checkpoint" in step) {
    const r = await fetch(url + "/_count");
    checkpoints[step.checkpoint] = (await r.json()).count;
  }
}
const s = sender.stats();
process.stdout.write(
  JSON.stringify({
    send_returns: returns,
    flush_ok: flushOk,
    results: uuids.map((u, n) => ({
      n,
      outcome: byUuid.get(u)?.outcome ?? "none",
      reason: byUuid.get(u)?.reason ?? "",
    })),
    stats: {
      queued: s.queued,
      delivered: s.delivered,
      rejected: s.rejected,
      dropped: s.dropped,
      dropped_queue_full: s.droppedQueueFull,
      retries: s.retries,
      requests: s.requests,
    },
    checkpoints,
  }) + "\n",
);
// a case may leave a sender unclosed: its timers must not keep us waiting
process.exit(0);
