// Reproduces tests/vectors with the generated TypeScript langpacks (bo and
// front, as npm packages in the folders given): each vector's input is
// built with the generated classes (found by id and version in EVENTS,
// fields by each class's FIELDS table) and encoded by the runtime; the
// output must be the vector's "wire" text. Prints one line per vector:
// "ok NAME" or "FAIL NAME: got ...".
//
//     node vectors.mjs VECTORS_DIR BO_DIR FRONT_DIR
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, boDir, frontDir] = process.argv.slice(2);
const load = async (d) => ({
  pack: await import(pathToFileURL(resolve(d, "index.js")).href),
  runtime: await import(pathToFileURL(resolve(d, "runtime/index.js")).href),
});
const packs = { bo: await load(boDir), front: await load(frontDir) };

// JSON.parse cannot hold an int64 beyond 2^53: such literals become
// strings first, and BigInts where the field is an int.
const BIG = "__int64__:";
function parse(text) {
  let out = "";
  for (let i = 0; i < text.length; ) {
    if (text[i] === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /[-\d.eE+]/.test(text[i - 1] ?? "")
      ? null
      : /^-?\d{16,}(?![.eE\d])/.exec(text.slice(i, i + 40));
    if (m) {
      out += `"${BIG}${m[0]}"`;
      i += m[0].length;
    } else {
      out += text[i++];
    }
  }
  return JSON.parse(out);
}

function convert(pack, value, type) {
  if (value === null) return undefined;
  if (type.endsWith("[]")) {
    return value.map((x) => convert(pack, x, type.slice(0, -2)));
  }
  const big = typeof value === "string" && value.startsWith(BIG);
  switch (type) {
    case "int":
      return big ? BigInt(value.slice(BIG.length)) : value;
    case "float":
      return big ? Number(value.slice(BIG.length)) : value;
    case "timestamp":
      return pack.Timestamp.parse(value);
    case "string":
    case "enum":
    case "bool":
      return value;
    default:
      return build(pack, pack[type], value);
  }
}

function build(pack, cls, fields) {
  const init = {};
  for (const [name, value] of Object.entries(fields)) {
    const [prop, type] = cls.FIELDS[name];
    init[prop] = convert(pack, value, type);
  }
  return new cls(init);
}

for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
  const vec = parse(readFileSync(join(dir, name), "utf8"));
  const i = vec.input;
  const { pack, runtime } = packs[i.environment];
  try {
    const event = build(pack, pack.EVENTS[`${i.event_id}:${i.version}`], i.fields);
    event.eventUuid = i.uuid;
    event.eventTime = pack.Timestamp.parse(i.time);
    event.validate();
    const got = runtime.encodeEvent(event, i.environment, i.source);
    console.log(got === vec.wire ? `ok ${name}` : `FAIL ${name}: got ${got}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack}`);
  }
}
