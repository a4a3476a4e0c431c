/* The sender: queues encoded events and posts them in batches with `fetch`
 * (`keepalive` for bodies a browser lets outlive the page), retrying with
 * backoff; on page hide, what is still queued goes by
 * `navigator.sendBeacon`. Every event's outcome reaches the caller's
 * callback. docs/langpacks.md ("Sending") describes the behaviour,
 * tests/conformance/ pins it. */
import { utf8Length } from "./encode.js";
import { encodeEvent } from "./event.js";
const BATCH_HEAD = '{"events":[';
const BATCH_OVERHEAD = BATCH_HEAD.length + 2; // and "]}"
/** Browsers refuse a keepalive request body over 64 KiB. */
const KEEPALIVE_MAX = 65536;
/** The least time between two log lines about lost events of one kind. */
export const LOSS_LOG_INTERVAL_MS = 10000;
const now = () => typeof performance !== "undefined" ? performance.now() : Date.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function joinPath(base, path) {
    return base.replace(/\/+$/, "") + (path.startsWith("/") ? path : "/" + path);
}
/** Sends one environment's events to the collector. */
export class Sender {
    #eventsUrl;
    #beaconUrl;
    #source;
    #environment;
    #batchSize;
    #batchAge;
    #maxBytes;
    #maxBeacon;
    #capacity;
    #maxAttempts;
    #backoffBase;
    #backoffMax;
    #timeout;
    #onResult;
    #fetch;
    #losses;
    #key;
    #headers;
    #queue = [];
    #queueBytes = 0; // the queued events' bytes, each with its comma
    #pending = 0; // queued or being delivered
    #flushing = 0;
    #urgent = false; // the page is going away: send all now
    #closed = false;
    #running = false;
    #timer;
    #waiters = [];
    #unlisten;
    #stats = {
        queued: 0,
        delivered: 0,
        rejected: 0,
        dropped: 0,
        droppedQueueFull: 0,
        retries: 0,
        requests: 0,
        beaconed: 0,
    };
    constructor(options) {
        const o = options;
        if (!o.source || !o.environment) {
            throw new Error("a sender needs a source and an environment");
        }
        const positive = (v, d, name) => {
            const x = v ?? d;
            if (!(x >= 1))
                throw new RangeError(`${name} must be at least 1`);
            return x;
        };
        new URL(o.collectorUrl); // a bad URL is refused now, not at send
        this.#eventsUrl = joinPath(o.collectorUrl, o.eventsPath ?? "/v1/events");
        this.#beaconUrl = joinPath(o.collectorUrl, o.beaconPath ?? "/v1/beacon");
        const env = globalThis.process?.env;
        this.#key = o.key || env?.["REESTR_KEY"] || undefined;
        if (this.#key !== undefined && /[\x00-\x20\x7f]/.test(this.#key)) {
            // not shown: the message must not carry the key
            throw new Error("the key (key or REESTR_KEY) holds a space or a control character");
        }
        this.#headers = { "Content-Type": "application/json" };
        if (this.#key !== undefined) {
            this.#headers["Authorization"] = "Bearer " + this.#key;
            if (this.#key.startsWith(PUBLISHABLE)) {
                this.#beaconUrl +=
                    (this.#beaconUrl.includes("?") ? "&" : "?") +
                        "key=" +
                        encodeURIComponent(this.#key);
            }
        }
        this.#source = o.source;
        this.#environment = o.environment;
        this.#batchSize = positive(o.batchSize, 500, "batchSize");
        this.#batchAge = o.batchAgeMs ?? 1000;
        this.#maxBytes = positive(o.maxBatchBytes, 1 << 20, "maxBatchBytes");
        this.#maxBeacon = positive(o.maxBeaconBytes, 65536, "maxBeaconBytes");
        this.#capacity = positive(o.queueCapacity, 10000, "queueCapacity");
        this.#maxAttempts = positive(o.maxAttempts, 5, "maxAttempts");
        this.#backoffBase = o.backoffBaseMs ?? 100;
        this.#backoffMax = o.backoffMaxMs ?? 10000;
        this.#timeout = o.requestTimeoutMs ?? 10000;
        this.#onResult = o.onResult;
        const f = o.fetch ?? globalThis.fetch;
        if (typeof f !== "function")
            throw new Error("no fetch in this runtime");
        // a browser's fetch must be called on the window ("Illegal
        // invocation" otherwise), not as a method of this sender
        this.#fetch = o.fetch ?? f.bind(globalThis);
        this.#losses = new LossLog(o.logger ?? console);
        if (o.beaconOnHide ?? true)
            this.#listen();
    }
    /**
     * Checks and encodes the event and queues it; never waits for the
     * network. Returns false when it was dropped (queue full, sender closed)
     * or rejected (too large for a batch of its own), which the result
     * callback also reports. Throws ValidationError when the event breaks the
     * registry's rules.
     */
    send(event) {
        event.validate();
        const data = encodeEvent(event, this.#environment, this.#source);
        const size = utf8Length(data);
        const item = {
            data,
            size,
            uuid: event.eventUuid,
            event: event.eventName,
            version: event.eventVersion,
            queuedAt: now(),
        };
        let reason;
        let outcome = "dropped";
        if (this.#closed) {
            reason = "sender closed";
        }
        else if (size + BATCH_OVERHEAD > this.#maxBytes) {
            outcome = "rejected";
            reason =
                `event is ${size} bytes encoded: a batch of it alone would be ` +
                    `${size + BATCH_OVERHEAD} bytes, more than max_batch_bytes ${this.#maxBytes}`;
        }
        else if (this.#pending >= this.#capacity) {
            reason = "queue full";
            this.#stats.droppedQueueFull++;
        }
        else {
            this.#queue.push(item);
            this.#queueBytes += size + 1;
            this.#pending++;
            this.#stats.queued++;
            this.#kick();
            return true;
        }
        if (outcome === "rejected")
            this.#stats.rejected++;
        else
            this.#stats.dropped++;
        this.#report([item], outcome, reason);
        return false;
    }
    /**
     * Sends everything queued now and waits for the outcomes. True when every
     * event since the previous flush or close got there; false when any was
     * rejected or dropped (the log and the result callback say which).
     */
    async flush() {
        this.#flushing++;
        try {
            this.#kick();
            while (this.#pending > 0) {
                await new Promise((resolve) => this.#waiters.push(resolve));
            }
        }
        finally {
            this.#flushing--;
        }
        return this.#losses.take() === 0;
    }
    /** Flushes, then stops; later sends are dropped ("sender closed"). */
    async close() {
        const ok = await this.flush();
        this.#closed = true;
        if (this.#timer !== undefined)
            clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#unlisten?.();
        this.#unlisten = undefined;
        return this.#losses.take() === 0 && ok;
    }
    /** The counters, as a copy. */
    stats() {
        return { ...this.#stats };
    }
    // --- page hide ------------------------------------------------------
    #listen() {
        const g = globalThis;
        if (typeof g.addEventListener !== "function" || !g.document)
            return;
        const onHide = () => {
            if (g.document?.visibilityState === "hidden")
                this.#hide();
        };
        const onPageHide = () => this.#hide();
        g.addEventListener("visibilitychange", onHide);
        g.addEventListener("pagehide", onPageHide);
        this.#unlisten = () => {
            g.removeEventListener?.("visibilitychange", onHide);
            g.removeEventListener?.("pagehide", onPageHide);
        };
    }
    /** The page is being hidden (and may never come back): what is queued
     * goes by sendBeacon; what the browser will not take is posted at once
     * with fetch (keepalive). */
    #hide() {
        const nav = globalThis
            .navigator;
        // only a publishable key may travel in a URL: with another, no beacon
        const keyed = this.#key === undefined || this.#key.startsWith(PUBLISHABLE);
        const beacon = keyed && nav && typeof nav.sendBeacon === "function"
            ? nav.sendBeacon.bind(nav)
            : undefined;
        while (beacon && this.#queue.length > 0) {
            const batch = this.#take(Math.min(this.#maxBeacon, this.#maxBytes));
            const body = BATCH_HEAD + batch.map((i) => i.data).join(",") + "]}";
            let sent = false;
            try {
                sent = beacon(this.#beaconUrl, body);
            }
            catch {
                sent = false;
            }
            if (!sent) {
                this.#queue.unshift(...batch); // back where they were
                this.#queueBytes += batch.reduce((n, i) => n + i.size + 1, 0);
                break;
            }
            this.#pending -= batch.length;
            this.#stats.beaconed += batch.length;
            this.#report(batch, "beaconed", "");
        }
        this.#notify();
        if (this.#queue.length > 0) {
            this.#urgent = true;
            this.#kick();
        }
    }
    // --- delivery -------------------------------------------------------
    #due() {
        const q = this.#queue;
        if (q.length === 0)
            return false;
        return (q.length >= this.#batchSize ||
            this.#flushing > 0 ||
            this.#urgent ||
            this.#closed ||
            this.#queueBytes + BATCH_OVERHEAD - 1 > this.#maxBytes ||
            now() - q[0].queuedAt >= this.#batchAge);
    }
    #kick() {
        if (this.#running)
            return;
        if (this.#due()) {
            if (this.#timer !== undefined)
                clearTimeout(this.#timer);
            this.#timer = undefined;
            void this.#run();
        }
        else if (this.#queue.length > 0 && this.#timer === undefined) {
            const wait = Math.max(0, this.#queue[0].queuedAt + this.#batchAge - now());
            this.#timer = setTimeout(() => {
                this.#timer = undefined;
                this.#kick();
            }, wait);
        }
    }
    async #run() {
        this.#running = true;
        try {
            while (this.#due()) {
                const batch = this.#take(this.#maxBytes);
                await this.#deliver(batch);
                this.#pending -= batch.length;
                this.#notify();
            }
        }
        finally {
            this.#running = false;
            if (this.#queue.length === 0)
                this.#urgent = false;
        }
        this.#kick();
    }
    /** The next batch: up to batchSize events, within maxBytes. */
    #take(limit) {
        const q = this.#queue;
        let size = BATCH_OVERHEAD - 1;
        let n = 0;
        while (n < q.length && n < this.#batchSize) {
            const step = q[n].size + 1;
            if (n > 0 && size + step > limit)
                break;
            size += step;
            n++;
        }
        this.#queueBytes -= size - (BATCH_OVERHEAD - 1);
        return q.splice(0, n);
    }
    #notify() {
        const w = this.#waiters;
        this.#waiters = [];
        for (const resolve of w)
            resolve();
    }
    async #post(body, size) {
        const ctrl = new AbortController();
        const timer = setTimeout(() => ctrl.abort(), this.#timeout);
        try {
            const r = await this.#fetch(this.#eventsUrl, {
                method: "POST",
                headers: this.#headers,
                body,
                keepalive: size <= KEEPALIVE_MAX,
                credentials: "omit",
                signal: ctrl.signal,
            });
            const text = await r.text();
            return [r.status, r.headers.get("Retry-After") ?? "", text];
        }
        catch (e) {
            if (ctrl.signal.aborted) {
                throw new Error(`timeout after ${this.#timeout} ms`);
            }
            throw e;
        }
        finally {
            clearTimeout(timer);
        }
    }
    /** Posts the batch until the collector answers it, a try fails for good
     * or maxAttempts tries failed, and reports each event. A batch refused
     * whole with 400 or 413 is split in halves, down to the single events
     * refused: those alone are rejected. */
    async #deliver(batch) {
        const body = BATCH_HEAD + batch.map((i) => i.data).join(",") + "]}";
        const size = batch.reduce((n, i) => n + i.size + 1, BATCH_OVERHEAD - 1);
        let last = "";
        for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
            let retryAfter = "";
            this.#stats.requests++;
            try {
                const [status, ra, text] = await this.#post(body, size);
                retryAfter = ra;
                // a 403 answering each event (every one of a source or environment
                // the key may not write) is read as a 200: each is rejected with
                // its own reason
                const results = status === 200 || status === 403
                    ? parseResults(text, batch.length)
                    : null;
                if (status === 200 || results) {
                    if (results) {
                        this.#settle(batch, results);
                        return;
                    }
                    last = "200 with an answer that does not match the batch";
                }
                else {
                    last = `${status} ${errorMessage(text)}`.trim();
                    if (status === 400 || status === 413) {
                        if (batch.length > 1) {
                            const mid = Math.floor(batch.length / 2);
                            await this.#deliver(batch.slice(0, mid));
                            await this.#deliver(batch.slice(mid));
                            return;
                        }
                        this.#stats.rejected++;
                        this.#report(batch, "rejected", `collector refused the event: ${last}`);
                        return;
                    }
                    if (status === 401 || status === 403) {
                        // the key itself is refused: so would every retry be
                        this.#stats.dropped += batch.length;
                        this.#report(batch, "dropped", KEY_REFUSED + last);
                        return;
                    }
                    if (status >= 400 &&
                        status < 500 &&
                        status !== 408 &&
                        status !== 429) {
                        this.#stats.dropped += batch.length;
                        this.#report(batch, "dropped", `collector refused the batch: ${last}`);
                        return;
                    }
                }
            }
            catch (e) {
                last = networkError(e);
            }
            if (attempt === this.#maxAttempts)
                break;
            let delay = Math.min(this.#backoffMax, this.#backoffBase * 2 ** (attempt - 1));
            delay = delay / 2 + (Math.random() * delay) / 2;
            if (/^\s*\d+\s*$/.test(retryAfter)) {
                delay = Math.max(delay, Math.min(Number(retryAfter), 60) * 1000);
            }
            this.#stats.retries++;
            await sleep(delay);
        }
        this.#stats.dropped += batch.length;
        this.#report(batch, "dropped", `gave up after ${this.#maxAttempts} attempts: ${last}`);
    }
    #settle(batch, results) {
        batch.forEach((item, i) => {
            const r = results[i];
            if (r["status"] === "accepted" || r["status"] === "duplicate") {
                this.#stats.delivered++;
                this.#report([item], "delivered", "");
            }
            else {
                this.#stats.rejected++;
                this.#report([item], "rejected", String(r["error"] ?? ""));
            }
        });
    }
    #report(items, outcome, reason) {
        reason = redact(reason, this.#key);
        if (outcome === "rejected" || outcome === "dropped") {
            this.#losses.lost(items, outcome, reason);
        }
        const cb = this.#onResult;
        if (!cb)
            return;
        for (const i of items) {
            try {
                cb({
                    uuid: i.uuid,
                    event: i.event,
                    version: i.version,
                    outcome,
                    reason,
                });
            }
            catch {
                // a callback must not stop the sender
            }
        }
    }
}
/** The start of a publishable key, the one kind that may be in a URL. */
const PUBLISHABLE = "rk_pub_";
/** The start of the reason of events dropped because the collector refused
 * the request's key (401, or 403 for the request as a whole). */
export const KEY_REFUSED = "collector refused the key (key or REESTR_KEY): ";
/** The text without the key, nor its secret part on its own. */
function redact(text, key) {
    if (!key || !text)
        return text;
    text = text.split(key).join("[key redacted]");
    const secret = key.slice(key.lastIndexOf("_") + 1);
    return secret.length >= 16 ? text.split(secret).join("[key redacted]") : text;
}
function networkError(e) {
    if (e instanceof Error) {
        const cause = e
            .cause;
        const detail = cause && (cause.code ?? cause.message)
            ? `: ${String(cause.code ?? cause.message)}`
            : "";
        return `network error: ${e.message}${detail}`;
    }
    return `network error: ${String(e)}`;
}
function parseResults(text, n) {
    try {
        const results = JSON.parse(text)
            .results;
        if (!Array.isArray(results) || results.length !== n)
            return null;
        if (!results.every((r) => typeof r === "object" && r !== null)) {
            return null;
        }
        return results;
    }
    catch {
        return null;
    }
}
function errorMessage(text) {
    try {
        const err = JSON.parse(text).error;
        if (typeof err === "string")
            return err;
    }
    catch {
        // not JSON: the text itself
    }
    return text.slice(0, 200).trim();
}
/** Tells of lost events: a warning per kind (rejected, dropped) at most
 * every LOSS_LOG_INTERVAL_MS, counting the ones it does not log, and the
 * count flush and close report. */
class LossLog {
    #logger;
    #last = new Map();
    #suppressed = new Map();
    #untaken = 0;
    constructor(logger) {
        this.#logger = logger;
    }
    lost(items, outcome, reason) {
        const t = now();
        this.#untaken += items.length;
        const last = this.#last.get(outcome);
        const suppressed = this.#suppressed.get(outcome) ?? 0;
        if (last !== undefined && t - last < LOSS_LOG_INTERVAL_MS) {
            this.#suppressed.set(outcome, suppressed + items.length);
            return;
        }
        this.#last.set(outcome, t);
        this.#suppressed.set(outcome, items.length - 1);
        const first = items[0];
        const tail = suppressed
            ? `; ${suppressed} more since the last line, not logged`
            : "";
        this.#logger.warn(`reestr: event ${outcome}: ${reason} (${first.event} v${first.version}, uuid ${first.uuid})${tail}`);
    }
    take() {
        const n = this.#untaken;
        this.#untaken = 0;
        return n;
    }
}
