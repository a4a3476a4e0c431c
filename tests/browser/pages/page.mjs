// The scenario, the same on the allowed and the disallowed origin, with the
// TypeScript langpack of `front` as the collector served it (langpack/,
// unpacked by the test): on load, two typed PageViewV0 events sent and
// flushed (fetch, keepalive) and one event of `bo` (an environment listing
// no origin) by the langpack's runtime Sender; then a third PageViewV0
// queued with an hour's batch age, which only the page going away sends
// (sendBeacon on pagehide). Every outcome the sender reports is kept in
// localStorage (the beacon's comes as the page goes) and window.__reestr.
import { PageViewV0, Sender } from "./langpack/index.js";
import { Event, Sender as RuntimeSender } from "./langpack/runtime/index.js";

const q = new URLSearchParams(location.search);
const collector = q.get("collector");
const run = q.get("run");
const state = {
  fetched: [],
  bo: null,
  beaconed: [],
  flushOk: null,
  boCloseOk: null,
  results: [],
  error: null,
  done: false,
};
window.__reestr = state;
const onResult = (r) => {
  state.results.push(r);
  localStorage.setItem(`results-${run}`, JSON.stringify(state.results));
};
// a refused fetch is a network error to the page: two tries, not five
const quick = { maxAttempts: 2, backoffBaseMs: 50, batchAgeMs: 3600000 };

/** Event 2 of `bo`, by hand: front's langpack has only front's events. */
class PaymentV0 extends Event {
  constructor(amount) {
    super();
    this.amount = amount;
  }
  get eventId() {
    return 2;
  }
  get eventVersion() {
    return 0;
  }
  get eventName() {
    return "payment";
  }
  validate() {}
  encodeFields() {
    return `{"amount":${this.amount}}`;
  }
}

try {
  const sender = new Sender({
    collectorUrl: collector,
    source: "web-frontend",
    onResult,
    ...quick,
  });
  const a = new PageViewV0({ path: `/${run}/a` });
  const b = new PageViewV0({ path: `/${run}/b` });
  sender.send(a);
  sender.send(b);
  state.fetched = [a.eventUuid, b.eventUuid];
  state.flushOk = await sender.flush();

  const bo = new RuntimeSender({
    collectorUrl: collector,
    source: "web-frontend",
    environment: "bo",
    beaconOnHide: false,
    onResult,
    ...quick,
  });
  const p = new PaymentV0(3);
  bo.send(p);
  state.bo = p.eventUuid;
  state.boCloseOk = await bo.close();

  const c = new PageViewV0({ path: `/${run}/beacon` });
  sender.send(c); // waits for the page to go
  state.beaconed = [c.eventUuid];
} catch (e) {
  state.error = String((e && e.stack) || e);
}
state.done = true;
