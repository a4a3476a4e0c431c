import { encodeString, encodeTime } from "./encode.js";
import { uuid7 } from "./uuid.js";
/**
 * The base of every generated event: its registry id, version and name
 * (set by the generated class), a time and a client-made UUID.
 *
 * The time is when the object was made and the UUID a fresh UUIDv7; both
 * can be overridden (a backfill keeps the original time). One object is one
 * event: sending it twice sends the same UUID, which the store keeps once.
 */
export class Event {
    #uuid;
    #time;
    constructor() {
        this.#uuid = uuid7();
        this.#time = new Date();
    }
    /** The event's UUID, lowercase (settable for backfills and tests). */
    get eventUuid() {
        return this.#uuid;
    }
    set eventUuid(value) {
        this.#uuid = value.toLowerCase();
    }
    /** When the event happened: a Date, or a Timestamp for microseconds. */
    get eventTime() {
        return this.#time;
    }
    set eventTime(value) {
        encodeTime(value); // an invalid Date is refused here, not at send
        this.#time = value;
    }
}
/** The event on the wire: the envelope's keys in their order, then the fields. */
export function encodeEvent(e, environment, source) {
    return (`{"event_id":${e.eventId},"version":${e.eventVersion},` +
        `"uuid":${encodeString(e.eventUuid)},"time":${encodeTime(e.eventTime)},` +
        `"environment":${encodeString(environment)},` +
        `"source":${encodeString(source)},"fields":${e.encodeFields()}}`);
}
