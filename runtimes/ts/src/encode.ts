/* The canonical encoding of docs/wire-format.md: RFC 8785 strings and
 * numbers (which are JavaScript's own JSON.stringify and Number#toString),
 * UTC microsecond times, fields in registry order (the generated code's
 * job), no whitespace. */

/**
 * A point in time to the microsecond, which a `Date` (milliseconds) cannot
 * hold: for timestamps read from elsewhere (`Timestamp.parse`) that must
 * keep their microseconds. A timestamp field takes a `Date` or a
 * `Timestamp`.
 */
export class Timestamp {
  /** Whole seconds since 1970-01-01T00:00:00Z (may be negative). */
  readonly seconds: number;
  /** Microseconds into the second, 0 to 999999. */
  readonly micros: number;

  constructor(seconds: number, micros: number) {
    if (!Number.isSafeInteger(seconds) || !Number.isInteger(micros)) {
      throw new RangeError("a Timestamp takes whole seconds and micros");
    }
    const carry = Math.floor(micros / 1e6);
    this.seconds = seconds + carry;
    this.micros = micros - carry * 1e6;
  }

  /** The time of a Date (its milliseconds, and 000 microseconds). */
  static fromDate(d: Date): Timestamp {
    const ms = d.getTime();
    if (!Number.isFinite(ms)) {
      throw new RangeError("an invalid Date has no time");
    }
    const s = Math.floor(ms / 1000);
    return new Timestamp(s, (ms - s * 1000) * 1000);
  }

  /**
   * An RFC 3339 timestamp with a time zone (`Z` or `+hh:mm`) and up to 9
   * fraction digits, cut to microseconds (not rounded), as the collector
   * reads one. Throws RangeError for anything else.
   */
  static parse(text: string): Timestamp {
    const m =
      /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(
        text,
      );
    if (!m) {
      throw new RangeError(`not an RFC 3339 timestamp: ${text}`);
    }
    const n = (i: number): number => Number(m[i] ?? "0");
    const d = new Date(0);
    d.setUTCFullYear(n(1), n(2) - 1, n(3));
    d.setUTCHours(n(4), n(5), n(6), 0);
    if (
      d.getUTCFullYear() !== n(1) ||
      d.getUTCMonth() !== n(2) - 1 ||
      d.getUTCDate() !== n(3) ||
      n(4) > 23 ||
      n(5) > 59 ||
      n(6) > 59 ||
      n(10) > 23 ||
      n(11) > 59
    ) {
      throw new RangeError(`not an RFC 3339 timestamp: ${text}`);
    }
    let seconds = d.getTime() / 1000;
    if (m[9] !== undefined) {
      const offset = (n(10) * 60 + n(11)) * 60;
      seconds += m[9] === "+" ? -offset : offset;
    }
    const micros = Number(((m[7] ?? "") + "000000").slice(0, 6));
    return new Timestamp(seconds, micros);
  }

  /** A Date of this time (the microseconds beyond the millisecond lost). */
  toDate(): Date {
    return new Date(this.seconds * 1000 + Math.floor(this.micros / 1000));
  }

  /** The wire text, without quotes: `2026-11-25T12:00:00.123456Z`. */
  toString(): string {
    return formatTime(this);
  }
}

/** What a timestamp field or the event time takes. */
export type TimeValue = Date | Timestamp;

function formatTime(t: Timestamp): string {
  const iso = new Date(t.seconds * 1000).toISOString();
  return `${iso.slice(0, 19)}.${String(t.micros).padStart(6, "0")}Z`;
}

/** The time as a Timestamp; an invalid Date gives NaN seconds' stand-in null. */
export function toTimestamp(v: TimeValue): Timestamp | null {
  if (v instanceof Timestamp) return v;
  return Number.isFinite(v.getTime()) ? Timestamp.fromDate(v) : null;
}

/** Whether a time is within 0001-01-01 .. 9999-12-31 in UTC (a valid Date). */
export function timeInRange(v: unknown): boolean {
  const t = v instanceof Timestamp || v instanceof Date ? toTimestamp(v) : null;
  if (t === null) return false;
  const year = new Date(t.seconds * 1000).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

/** s as a JSON string: RFC 8785's escapes, which JSON.stringify writes. */
export function encodeString(s: string): string {
  return JSON.stringify(s);
}

/** An integer in decimal (a number or a bigint). */
export function encodeInt(v: number | bigint): string {
  return typeof v === "bigint" ? v.toString() : String(v);
}

/** A number as ECMAScript writes it (RFC 8785): -0 as 0. */
export function encodeFloat(v: number): string {
  return String(v);
}

/** true or false. */
export function encodeBool(v: boolean): string {
  return v ? "true" : "false";
}

/** A time as a JSON string in UTC with six fraction digits. */
export function encodeTime(v: TimeValue): string {
  const t = toTimestamp(v);
  if (t === null) throw new RangeError("an invalid Date has no time");
  return `"${formatTime(t)}"`;
}

/** The length max_length counts: Unicode code points. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Whether s is valid Unicode text: no lone surrogate (UTF-8 cannot hold one). */
export function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 >= s.length) return false;
    const d = s.charCodeAt(i + 1);
    if (d < 0xdc00 || d > 0xdfff) return false;
    i++;
  }
  return true;
}

/** The JSON kind of a value, as the collector's messages name it. */
export function kind(v: unknown): string {
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "boolean":
      return "a bool";
    case "bigint":
      return "an integer";
    case "number":
      return Number.isInteger(v) ? "an integer" : "a number";
    case "string":
      return "a string";
    default:
      return Array.isArray(v) ? "an array" : "an object";
  }
}

/** Whether v is an integer (a bigint, or a number without a fraction). */
export function isInt(v: unknown): v is number | bigint {
  return typeof v === "bigint" || Number.isInteger(v);
}

/** Whether an integer is within -2^63 .. 2^63-1. */
export function isInt64(v: number | bigint): boolean {
  return typeof v === "bigint"
    ? v >= -9223372036854775808n && v <= 9223372036854775807n
    : v >= -9223372036854775808 && v < 9223372036854775808;
}

/** A number as the collector prints it in messages: C's %.17g. */
export function g17(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  if (!Number.isFinite(v)) return v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const [mant, exp] = v.toExponential(16).split("e") as [string, string];
  const x = Number(exp);
  const strip = (s: string): string =>
    s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
  if (x < -4 || x >= 17) {
    const e = Math.abs(x);
    return `${strip(mant)}e${x < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
  }
  return strip(v.toFixed(16 - x));
}

/** The UTF-8 length of s, in bytes (a lone surrogate counts 3, as U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // two code units, four bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}
