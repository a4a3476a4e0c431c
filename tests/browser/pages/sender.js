// The page's sending code, kept in one file so another sender can take
// its place (the TypeScript langpack's runtime, once it is built: the
// same two calls over its own batching). Plain JavaScript, no build step.
//
//   reestrSender.post(collector, events)   fetch POST /v1/events with
//       keepalive; resolves to the collector's JSON answer, rejects with
//       the browser's TypeError when CORS refuses it
//   reestrSender.beacon(collector, events) navigator.sendBeacon to
//       /v1/beacon, a string (text/plain), the only body type a beacon
//       sends cross-origin without a preflight; true when queued
(function () {
  "use strict";

  // A UUIDv7: 48 bits of milliseconds, then random bits.
  function uuid7() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    let ms = Date.now();
    for (let i = 5; i >= 0; i--) {
      b[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function event(eventId, version, environment, source, fields) {
    return {
      event_id: eventId,
      version: version,
      uuid: uuid7(),
      time: new Date().toISOString(),
      environment: environment,
      source: source,
      fields: fields,
    };
  }

  async function post(collector, events) {
    const r = await fetch(collector + "/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ events: events }),
      keepalive: true,
      credentials: "omit",
    });
    return { status: r.status, body: await r.json() };
  }

  function beacon(collector, events) {
    return navigator.sendBeacon(
      collector + "/v1/beacon",
      JSON.stringify({ events: events }),
    );
  }

  window.reestrSender = { uuid7: uuid7, event: event, post: post, beacon: beacon };
})();
