// The conformance adapter's work, shared by the two places the TypeScript
// runtime runs the contract (tests/conformance/README.md): Node
// (conformance.mjs) and headless Chromium (tests/browser, a page importing
// this file and the runtime's dist/ as ES modules). runCase(kase, url,
// runtime) runs the case's steps with a sender made from its config and
// returns what the README's adapter prints. Standard library only: fetch
// and setTimeout, which both have.

/** The case's config keys and the runtime's option names. */
const OPTIONS = [
  ["batch_size", "batchSize"],
  ["max_batch_bytes", "maxBatchBytes"],
  ["queue_capacity", "queueCapacity"],
  ["max_attempts", "maxAttempts"],
  ["batch_age_ms", "batchAgeMs"],
  ["backoff_base_ms", "backoffBaseMs"],
  ["backoff_max_ms", "backoffMaxMs"],
  ["request_timeout_ms", "requestTimeoutMs"],
  ["key", "key"],
];

/**
 * kase: the case (parsed JSON); url: the collector's base URL; runtime: the
 * module exporting Event and Sender (the compiled dist/index.js).
 */
export async function runCase(kase, url, { Event, Sender }) {
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

  const cfg = kase.config ?? {};
  const options = {};
  for (const [key, name] of OPTIONS) {
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
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  const s = sender.stats();
  return {
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
  };
}
