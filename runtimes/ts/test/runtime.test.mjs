// The runtime's own tests, on the compiled dist/ (as shipped):
//
//     node --test runtimes/ts/test/
//
// The sender's behaviour contract is tests/conformance (conformance.mjs);
// these cover what only a browser has (page hide, sendBeacon, keepalive)
// with stand-ins for document, navigator and fetch, and the encoding
// helpers.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Event,
  Sender,
  Timestamp,
  codePoints,
  encodeTime,
  g17,
  utf8Length,
  uuid7,
  wellFormed,
} from "../dist/index.js";

class TestEvent extends Event {
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
    return "test_event";
  }
  validate() {}
  encodeFields() {
    return `{"n":${this.n}}`;
  }
}

test("g17 prints numbers as C's %.17g", () => {
  // from Python's "%.17g" % v
  const cases = [
    [0.1, "0.10000000000000001"],
    [-90, "-90"],
    [1e20, "1e+20"],
    [1.5e-7, "1.4999999999999999e-07"],
    [123456789012345680000, "1.2345678901234568e+20"],
    [0.0001, "0.0001"],
    [0.00001, "1.0000000000000001e-05"],
    [12345678901234567, "12345678901234568"],
    [-0, "-0"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
  ];
  for (const [v, want] of cases) assert.equal(g17(v), want, String(v));
});

test("Timestamp.parse keeps microseconds, applies the offset, refuses nonsense", () => {
  assert.equal(
    Timestamp.parse("2026-11-25T13:00:00.123456789+01:00").toString(),
    "2026-11-25T12:00:00.123456Z",
  );
  assert.equal(
    encodeTime(Timestamp.parse("0001-01-01T00:00:00Z")),
    '"0001-01-01T00:00:00.000000Z"',
  );
  assert.equal(
    encodeTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))),
    '"2026-01-02T03:04:05.678000Z"',
  );
  for (const bad of [
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T24:00:00Z",
    "x",
  ]) {
    assert.throws(() => Timestamp.parse(bad), RangeError, bad);
  }
});

test("lengths count code points; lone surrogates are not text", () => {
  assert.equal(codePoints("a😀b"), 3);
  assert.equal(utf8Length("a😀é"), 1 + 4 + 2);
  assert.equal(wellFormed("a😀b"), true);
  assert.equal(wellFormed("a\ud800b"), false);
  assert.equal(wellFormed("\udc00"), false);
});

test("uuid7 is a version 7 UUID, increasing", () => {
  let last = "";
  for (let i = 0; i < 5000; i++) {
    const u = uuid7();
    assert.match(
      u,
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.ok(u > last, `${u} after ${last}`);
    last = u;
  }
});

/** A page: document, window listeners and navigator.sendBeacon stand-ins. */
function fakePage(beaconAnswer) {
  const listeners = new Map();
  const beacons = [];
  const saved = {
    document: globalThis.document,
    addEventListener: globalThis.addEventListener,
    removeEventListener: globalThis.removeEventListener,
    navigator: Object.getOwnPropertyDescriptor(globalThis, "navigator"),
  };
  globalThis.document = { visibilityState: "visible" };
  globalThis.addEventListener = (t, f) => listeners.set(t, f);
  globalThis.removeEventListener = (t) => listeners.delete(t);
  Object.defineProperty(globalThis, "navigator", {
    configurable: true,
    value: {
      sendBeacon(url, data) {
        beacons.push({ url, data });
        return beaconAnswer;
      },
    },
  });
  return {
    beacons,
    listeners,
    hide(type) {
      globalThis.document.visibilityState = "hidden";
      listeners.get(type)?.();
    },
    restore() {
      globalThis.document = saved.document;
      globalThis.addEventListener = saved.addEventListener;
      globalThis.removeEventListener = saved.removeEventListener;
      if (saved.navigator)
        Object.defineProperty(globalThis, "navigator", saved.navigator);
    },
  };
}

function fakeFetch(calls) {
  return async (url, init) => {
    calls.push({ url, init });
    const n = JSON.parse(init.body).events.length;
    const results = Array.from({ length: n }, () => ({ status: "accepted" }));
    return new Response(JSON.stringify({ results }), { status: 200 });
  };
}

for (const type of ["visibilitychange", "pagehide"]) {
  test(`on ${type} the queue goes by sendBeacon to the beacon route`, async () => {
    const page = fakePage(true);
    try {
      const calls = [];
      const results = [];
      const sender = new Sender({
        collectorUrl: "https://collector.example.com/reestr/",
        source: "web",
        environment: "front",
        batchAgeMs: 60000,
        fetch: fakeFetch(calls),
        onResult: (r) => results.push(r),
      });
      for (let i = 0; i < 3; i++) sender.send(new TestEvent(i));
      page.hide(type);
      assert.equal(page.beacons.length, 1);
      assert.equal(
        page.beacons[0].url,
        "https://collector.example.com/reestr/v1/beacon",
      );
      const body = JSON.parse(page.beacons[0].data);
      assert.deepEqual(
        body.events.map((e) => e.fields.n),
        [0, 1, 2],
      );
      assert.equal(body.events[0].environment, "front");
      assert.deepEqual(
        results.map((r) => r.outcome),
        ["beaconed", "beaconed", "beaconed"],
      );
      assert.equal(sender.stats().beaconed, 3);
      assert.equal(calls.length, 0, "nothing went by fetch");
      assert.equal(await sender.close(), true);
      assert.equal(page.listeners.size, 0, "close removes the listeners");
    } finally {
      page.restore();
    }
  });
}

test("a beacon the browser refuses goes by fetch with keepalive at once", async () => {
  const page = fakePage(false);
  try {
    const calls = [];
    const sender = new Sender({
      collectorUrl: "http://127.0.0.1:9",
      source: "web",
      environment: "front",
      eventsPath: "/custom/events",
      batchAgeMs: 60000,
      fetch: fakeFetch(calls),
    });
    sender.send(new TestEvent(0));
    page.hide("pagehide");
    assert.equal(page.beacons.length, 1);
    await sender.flush();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, "http://127.0.0.1:9/custom/events");
    assert.equal(calls[0].init.keepalive, true);
    assert.equal(calls[0].init.headers["Content-Type"], "application/json");
    assert.equal(sender.stats().delivered, 1);
    assert.equal(sender.stats().beaconed, 0);
    await sender.close();
  } finally {
    page.restore();
  }
});

test("a body over 64 KiB is sent without keepalive, which browsers would refuse", async () => {
  const calls = [];
  const sender = new Sender({
    collectorUrl: "http://127.0.0.1:9",
    source: "web",
    environment: "front",
    beaconOnHide: false,
    batchSize: 2000,
    fetch: fakeFetch(calls),
  });
  for (let i = 0; i < 1000; i++) sender.send(new TestEvent(i));
  assert.equal(await sender.close(), true);
  assert.equal(calls.length, 1);
  assert.ok(calls[0].init.body.length > 65536);
  assert.equal(calls[0].init.keepalive, false);
});

test("beacons are cut to maxBeaconBytes", async () => {
  const page = fakePage(true);
  try {
    const sender = new Sender({
      collectorUrl: "http://127.0.0.1:9",
      source: "web",
      environment: "front",
      maxBeaconBytes: 1000,
      batchAgeMs: 60000,
      fetch: fakeFetch([]),
    });
    for (let i = 0; i < 50; i++) sender.send(new TestEvent(i));
    page.hide("visibilitychange");
    assert.ok(page.beacons.length > 1);
    const ns = [];
    for (const b of page.beacons) {
      assert.ok(b.data.length <= 1000, `a beacon of ${b.data.length} bytes`);
      ns.push(...JSON.parse(b.data).events.map((e) => e.fields.n));
    }
    assert.deepEqual(
      ns,
      Array.from({ length: 50 }, (_, i) => i),
    );
    await sender.close();
  } finally {
    page.restore();
  }
});

const PUB_KEY = "rk_pub_00112233aabbccdd_" + "7a".repeat(32);
const WRITE_KEY = "rk_live_00112233aabbccdd_" + "7a".repeat(32);

test("a publishable key goes in the beacon's URL (sendBeacon sets no header) and as Bearer by fetch", async () => {
  const page = fakePage(true);
  try {
    const calls = [];
    const sender = new Sender({
      collectorUrl: "https://collector.example.com",
      source: "web",
      environment: "front",
      key: PUB_KEY,
      batchAgeMs: 60000,
      fetch: fakeFetch(calls),
    });
    sender.send(new TestEvent(0));
    await sender.flush();
    assert.equal(calls[0].init.headers["Authorization"], "Bearer " + PUB_KEY);
    sender.send(new TestEvent(1));
    page.hide("pagehide");
    assert.equal(page.beacons.length, 1);
    assert.equal(
      page.beacons[0].url,
      "https://collector.example.com/v1/beacon?key=" + PUB_KEY,
    );
    await sender.close();
  } finally {
    page.restore();
  }
});

test("with a key that is not publishable no beacon is sent: the key stays out of URLs", async () => {
  const page = fakePage(true);
  try {
    const calls = [];
    const sender = new Sender({
      collectorUrl: "https://collector.example.com",
      source: "web",
      environment: "front",
      key: WRITE_KEY,
      batchAgeMs: 60000,
      fetch: fakeFetch(calls),
    });
    sender.send(new TestEvent(0));
    page.hide("pagehide");
    assert.equal(page.beacons.length, 0);
    await sender.flush();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, "https://collector.example.com/v1/events");
    assert.equal(calls[0].init.keepalive, true);
    assert.equal(calls[0].init.headers["Authorization"], "Bearer " + WRITE_KEY);
    await sender.close();
  } finally {
    page.restore();
  }
});

test("the key comes from REESTR_KEY when not given; one with a control byte is refused unshown", async () => {
  const calls = [];
  const saved = process.env.REESTR_KEY;
  process.env.REESTR_KEY = WRITE_KEY;
  try {
    const sender = new Sender({
      collectorUrl: "http://127.0.0.1:9",
      source: "web",
      environment: "front",
      beaconOnHide: false,
      fetch: fakeFetch(calls),
    });
    sender.send(new TestEvent(0));
    await sender.close();
    assert.equal(calls[0].init.headers["Authorization"], "Bearer " + WRITE_KEY);
    const given = new Sender({
      collectorUrl: "http://127.0.0.1:9",
      source: "web",
      environment: "front",
      beaconOnHide: false,
      key: PUB_KEY,
      fetch: fakeFetch(calls),
    });
    given.send(new TestEvent(1));
    await given.close();
    assert.equal(
      calls[1].init.headers["Authorization"],
      "Bearer " + PUB_KEY,
      "the option wins",
    );
    assert.throws(
      () =>
        new Sender({
          collectorUrl: "http://127.0.0.1:9",
          source: "web",
          environment: "front",
          key: WRITE_KEY + "\r\nX-Evil: 1",
        }),
      (e) => !String(e.message).includes(WRITE_KEY),
    );
  } finally {
    if (saved === undefined) delete process.env.REESTR_KEY;
    else process.env.REESTR_KEY = saved;
  }
});
