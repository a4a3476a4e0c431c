import { type Event } from "./event.js";
/**
 * What became of one event. `beaconed`: handed to the browser's
 * `navigator.sendBeacon` as the page was hidden; the browser sends it after
 * the page is gone and no answer comes back.
 */
export type Outcome = "delivered" | "rejected" | "dropped" | "beaconed";
export interface Result {
    readonly uuid: string;
    readonly event: string;
    readonly version: number;
    readonly outcome: Outcome;
    /** The collector's reason (rejected) or why it never got there (dropped). */
    readonly reason: string;
}
/** Counters since the sender was made. */
export interface Stats {
    queued: number;
    delivered: number;
    rejected: number;
    dropped: number;
    droppedQueueFull: number;
    retries: number;
    requests: number;
    beaconed: number;
}
/** Where lost events are told; `console` is one. */
export interface Logger {
    warn(message: string): void;
}
export interface SenderOptions {
    /** The collector's base URL, e.g. `https://collector.example.com`. */
    collectorUrl: string;
    /** The source name every event carries. */
    source: string;
    /** The registry environment (the langpack's Sender sets it). */
    environment: string;
    /** The path batches are posted to with fetch (JSON). Default `/v1/events`. */
    eventsPath?: string;
    /** The path of beacons (text/plain JSON). Default `/v1/beacon`. */
    beaconPath?: string;
    /** Send what is queued by sendBeacon when the page is hidden. Default true. */
    beaconOnHide?: boolean;
    /** The largest beacon body (browsers allow 64 KiB in flight). Default 65536. */
    maxBeaconBytes?: number;
    /** The most events in one request. Default 500. */
    batchSize?: number;
    /** How long a queued event waits for its batch to fill. Default 1000 ms. */
    batchAgeMs?: number;
    /** The largest request body. Default 1 MiB. */
    maxBatchBytes?: number;
    /** Events queued and not yet delivered; beyond it send drops. Default 10000. */
    queueCapacity?: number;
    /** Tries per batch before its events are dropped. Default 5. */
    maxAttempts?: number;
    /** The first retry's wait, doubling up to backoffMaxMs. Default 100 ms. */
    backoffBaseMs?: number;
    /** Default 10000 ms. */
    backoffMaxMs?: number;
    /** Per request. Default 10000 ms. */
    requestTimeoutMs?: number;
    /** Called with each event's outcome. */
    onResult?: (r: Result) => void;
    /** Where lost events are told. Default `console`. */
    logger?: Logger;
    /**
     * The collector's key for `source` (docs/security.md), sent as
     * `Authorization: Bearer KEY` with every request. Default: Node's
     * `process.env.REESTR_KEY`; with neither, no key is sent (a collector run
     * with `--insecure-local`). In a browser, a publishable key (`rk_pub_…`),
     * which `sendBeacon` sends as `?key=` (it can set no header); with any
     * other key, what is queued when the page is hidden goes by fetch
     * (keepalive) instead, since only a publishable key may be in a URL. A
     * key the collector refuses (401, or 403 for the whole request) drops the
     * batch at once, not retried; an event of a source the key may not write
     * is rejected by itself (403 in its result). The key never appears in a
     * result's reason or a log line.
     */
    key?: string;
    /** The fetch to use. Default `globalThis.fetch`. */
    fetch?: typeof fetch;
}
/** The least time between two log lines about lost events of one kind. */
export declare const LOSS_LOG_INTERVAL_MS = 10000;
/** Sends one environment's events to the collector. */
export declare class Sender {
    #private;
    constructor(options: SenderOptions);
    /**
     * Checks and encodes the event and queues it; never waits for the
     * network. Returns false when it was dropped (queue full, sender closed)
     * or rejected (too large for a batch of its own), which the result
     * callback also reports. Throws ValidationError when the event breaks the
     * registry's rules.
     */
    send(event: Event): boolean;
    /**
     * Sends everything queued now and waits for the outcomes. True when every
     * event since the previous flush or close got there; false when any was
     * rejected or dropped (the log and the result callback say which).
     */
    flush(): Promise<boolean>;
    /** Flushes, then stops; later sends are dropped ("sender closed"). */
    close(): Promise<boolean>;
    /** The counters, as a copy. */
    stats(): Stats;
}
/** The start of the reason of events dropped because the collector refused
 * the request's key (401, or 403 for the request as a whole). */
export declare const KEY_REFUSED = "collector refused the key (key or REESTR_KEY): ";
