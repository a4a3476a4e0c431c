import { type TimeValue } from "./encode.js";
/**
 * The base of every generated event: its registry id, version and name
 * (set by the generated class), a time and a client-made UUID.
 *
 * The time is when the object was made and the UUID a fresh UUIDv7; both
 * can be overridden (a backfill keeps the original time). One object is one
 * event: sending it twice sends the same UUID, which the store keeps once.
 */
export declare abstract class Event {
    #private;
    constructor();
    /** The registry's event id. */
    abstract get eventId(): number;
    /** The event version. */
    abstract get eventVersion(): number;
    /** The registry's event name. */
    abstract get eventName(): string;
    /** The event's UUID, lowercase (settable for backfills and tests). */
    get eventUuid(): string;
    set eventUuid(value: string);
    /** When the event happened: a Date, or a Timestamp for microseconds. */
    get eventTime(): TimeValue;
    set eventTime(value: TimeValue);
    /** Throws ValidationError for the first field missing or out of its rules. */
    abstract validate(): void;
    /** The fields object as canonical JSON text (generated). */
    abstract encodeFields(): string;
}
/** The event on the wire: the envelope's keys in their order, then the fields. */
export declare function encodeEvent(e: Event, environment: string, source: string): string;
