// Runs wire trees (wire.py) through a generated TypeScript langpack:
//
//     node ts_harness.mjs LANGPACK_DIR TREES.json
//
// Each tree becomes the event class's constructor argument the way a
// program would build it from parsed JSON, guided by each class's FIELDS
// table: an object becomes its class, a list an array, an RFC 3339 string
// with a zone a Timestamp, an int beyond 2^53 a BigInt. A value of another
// kind is passed as JSON.parse would give it (the generated checks refuse
// it); strings are JavaScript strings (a lone surrogate as itself). The
// harness itself refuses only what no JavaScript value can stand for: an
// unknown or repeated member, a timestamp without a zone or that cannot be
// a time, an int written with a fraction or exponent (1.0 is the number 1
// to JavaScript). Then validate(); prints one JSON line per tree.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const pack = await import(pathToFileURL(resolve(process.argv[2], "index.js")).href);
const trees = JSON.parse(readFileSync(process.argv[3], "utf8"));

class Refused extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}
let deferred = [];
const defer = (e) => deferred.push([e.path, e.message]);

/** UTF-8 bytes (surrogates allowed, as WTF-8) to a string; other invalid
 * bytes become U+FFFD (the runner reports those before any check). */
function text(node, path) {
  const b = Buffer.from(node.b, "base64");
  let s = "";
  let bad = false;
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let cp = 0xfffd;
    let n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c < 0xe0 && (b[i + 1] & 0xc0) === 0x80) {
      cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      n = 2;
    } else if (c >= 0xe0 && c < 0xf0 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
      cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
      n = 3;
      if (cp < 0x800) cp = 0xfffd;
    } else if (c >= 0xf0 && c < 0xf5 && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
      cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
      n = 4;
      if (cp < 0x10000 || cp > 0x10ffff) cp = 0xfffd;
    }
    bad ||= cp === 0xfffd && !(n === 3 && c === 0xef && b[i + 1] === 0xbf && b[i + 2] === 0xbd);
    // a pair of surrogates written as two 3-byte sequences stays a pair
    s += cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    i += n;
  }
  // a JavaScript string cannot hold bytes that are not UTF-8: a reader
  // (TextDecoder, JSON.parse of fetched text) makes them U+FFFD
  if (bad && path) throw new Refused(path, "invalid UTF-8 in string");
  return s;
}

function number(s) {
  if (s === "NaN") return NaN;
  if (s === "Infinity") return Infinity;
  if (s === "-Infinity") return -Infinity;
  if (/^-?[0-9]+$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }
  return Number(s);
}

function raw(node) {
  switch (node.t) {
    case "null":
      return null;
    case "bool":
      return node.v;
    case "num":
      return number(node.s);
    case "str":
      return text(node);
    case "arr":
      return node.v.map(raw);
    default:
      return Object.fromEntries(node.m.map(([k, v]) => [k, raw(v)]));
  }
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;

function timestamp(s, path) {
  const m = TIME.exec(s);
  if (!m) {
    throw new Refused(path, "not an RFC 3339 timestamp: not an RFC 3339 date-time (want YYYY-MM-DDTHH:MM:SSZ)");
  }
  if (!m[8]) {
    throw new Refused(path, "not an RFC 3339 timestamp: time zone missing (end with Z or +hh:mm)");
  }
  if (m[8] !== "Z" && (Number(m[8].slice(1, 3)) > 23 || Number(m[8].slice(4, 6)) > 59)) {
    throw new Refused(path, "not an RFC 3339 timestamp: time zone offset out of range");
  }
  try {
    return pack.Timestamp.parse(s);
  } catch {
    throw new Refused(path, "not an RFC 3339 timestamp: date or time out of range");
  }
}

function convert(node, type, path) {
  if (node.t === "null") return null;
  if (type.endsWith("[]")) {
    if (node.t !== "arr") return raw(node);
    return node.v.map((x, i) => {
      try {
        return convert(x, type.slice(0, -2), `${path}[${i}]`);
      } catch (e) {
        if (!(e instanceof Refused)) throw e;
        defer(e);
        return raw(x);
      }
    });
  }
  switch (type) {
    case "timestamp":
      return node.t === "str" ? timestamp(text(node, path), path) : raw(node);
    case "int":
      if (node.t === "num" && !/^-?[0-9]+$/.test(node.s) && Number.isInteger(Number(node.s))) {
        throw new Refused(path, "expected an integer, got a float");
      }
      return raw(node);
    case "float":
      return node.t === "num" ? Number(node.s.replace(/^(-?)Infinity$/, "$1Infinity")) : raw(node);
    case "string":
    case "enum":
      return node.t === "str" ? text(node, path) : raw(node);
    case "bool":
      return raw(node);
    default:
      return node.t === "obj" ? build(pack[type], node, path) : raw(node);
  }
}

function build(cls, node, path) {
  const init = {};
  const seen = new Set();
  for (const [key, value] of node.m) {
    if (seen.has(key)) {
      defer(new Refused(`${path}.${key}`, "given twice"));
      continue;
    }
    seen.add(key);
    const field = Object.hasOwn(cls.FIELDS, key) ? cls.FIELDS[key] : undefined;
    if (!field) {
      defer(new Refused(`${path}.${key}`, `unknown field (${cls.name} has: ${Object.keys(cls.FIELDS).join(", ")})`));
      continue;
    }
    try {
      init[field[0]] = convert(value, field[1], `${path}.${key}`);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      defer(e);
    }
  }
  return new cls(init);
}

const [cls] = Object.values(pack.EVENTS);
for (const tree of trees) {
  let out = { verdict: "accept", path: null, message: "" };
  if (tree.t === "error") {
    out = { verdict: "reject", path: null, request: true, message: "invalid JSON: " + tree.why };
  } else {
    deferred = [];
    try {
      build(cls, tree, "fields").validate();
    } catch (e) {
      if (!(e instanceof pack.ValidationError)) throw e;
      out = { verdict: "reject", path: e.field, message: e.detail };
    }
    out.deferred = deferred;
  }
  console.log(JSON.stringify(out));
}
