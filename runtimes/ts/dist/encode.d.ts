/**
 * A point in time to the microsecond, which a `Date` (milliseconds) cannot
 * hold: for timestamps read from elsewhere (`Timestamp.parse`) that must
 * keep their microseconds. A timestamp field takes a `Date` or a
 * `Timestamp`.
 */
export declare class Timestamp {
    /** Whole seconds since 1970-01-01T00:00:00Z (may be negative). */
    readonly seconds: number;
    /** Microseconds into the second, 0 to 999999. */
    readonly micros: number;
    constructor(seconds: number, micros: number);
    /** The time of a Date (its milliseconds, and 000 microseconds). */
    static fromDate(d: Date): Timestamp;
    /**
     * An RFC 3339 timestamp with a time zone (`Z` or `+hh:mm`) and up to 9
     * fraction digits, cut to microseconds (not rounded), as the collector
     * reads one. Throws RangeError for anything else.
     */
    static parse(text: string): Timestamp;
    /** A Date of this time (the microseconds beyond the millisecond lost). */
    toDate(): Date;
    /** The wire text, without quotes: `2026-11-25T12:00:00.123456Z`. */
    toString(): string;
}
/** What a timestamp field or the event time takes. */
export type TimeValue = Date | Timestamp;
/** The time as a Timestamp; an invalid Date gives NaN seconds' stand-in null. */
export declare function toTimestamp(v: TimeValue): Timestamp | null;
/** Whether a time is within 0001-01-01 .. 9999-12-31 in UTC (a valid Date). */
export declare function timeInRange(v: unknown): boolean;
/** s as a JSON string: RFC 8785's escapes, which JSON.stringify writes. */
export declare function encodeString(s: string): string;
/** An integer in decimal (a number or a bigint). */
export declare function encodeInt(v: number | bigint): string;
/** A number as ECMAScript writes it (RFC 8785): -0 as 0. */
export declare function encodeFloat(v: number): string;
/** true or false. */
export declare function encodeBool(v: boolean): string;
/** A time as a JSON string in UTC with six fraction digits. */
export declare function encodeTime(v: TimeValue): string;
/** The length max_length counts: Unicode code points. */
export declare function codePoints(s: string): number;
/** Whether s is valid Unicode text: no lone surrogate (UTF-8 cannot hold one). */
export declare function wellFormed(s: string): boolean;
/** The JSON kind of a value, as the collector's messages name it. */
export declare function kind(v: unknown): string;
/** Whether v is an integer (a bigint, or a number without a fraction). */
export declare function isInt(v: unknown): v is number | bigint;
/** Whether an integer is within -2^63 .. 2^63-1. */
export declare function isInt64(v: number | bigint): boolean;
/** A number as the collector prints it in messages: C's %.17g. */
export declare function g17(v: number | bigint): string;
/** The UTF-8 length of s, in bytes (a lone surrogate counts 3, as U+FFFD). */
export declare function utf8Length(s: string): number;
