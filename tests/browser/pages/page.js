// The scenario, the same on the allowed and the disallowed origin: on
// load, one batch by fetch (two front events and one of bo, an
// environment that lists no origin); on pagehide, one front event by
// sendBeacon. What happened is left in window.__reestr for the driver.
(function () {
  "use strict";
  const q = new URLSearchParams(location.search);
  const collector = q.get("collector");
  const run = q.get("run");
  const S = window.reestrSender;
  const front = (n) =>
    S.event(1, 0, "front", "web-frontend", { path: `/${run}/${n}` });
  const state = {
    fetched: [front("a"), front("b"), S.event(2, 0, "bo", "web-frontend", { amount: 3 })],
    beaconed: [front("beacon")],
    fetchResult: null,
    fetchError: null,
    done: false,
  };
  window.__reestr = state;
  S.post(collector, state.fetched)
    .then((r) => { state.fetchResult = r; })
    .catch((e) => { state.fetchError = String(e); })
    .finally(() => { state.done = true; });
  addEventListener("pagehide", () => {
    const queued = S.beacon(collector, state.beaconed);
    localStorage.setItem(`beaconQueued-${run}`, String(queued));
  });
})();
