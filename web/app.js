// The catalogue's pages (docs/catalogue.md), plain JavaScript, no build
// step. Served by `reestr serve` at / (the data from GET /v1/catalogue/...)
// and written by `reestr docs` as a static site (the same data inlined in
// index.html as <script id="catalogue-data" type="application/json">).
// Every page is a hash route, so the static site works from a folder.
"use strict";

(function () {
  const embedded = document.getElementById("catalogue-data");
  const STATIC = embedded ? JSON.parse(embedded.textContent) : null;
  const KEY_STORE = "reestr-catalogue-key";
  const LANGS = { go: "Go", python: "Python", php: "PHP", ts: "TypeScript" };
  const main = document.getElementById("main");

  // --- data ---------------------------------------------------------------

  class NeedKey extends Error {}

  async function api(path) {
    const headers = {};
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    const r = await fetch("v1/catalogue" + path, { headers });
    if (r.status === 401 || r.status === 403) throw new NeedKey(await r.text());
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`GET /v1/catalogue${path}: ${r.status}`);
    return r.json();
  }

  let indexCache = null;
  async function getIndex() {
    if (STATIC) return STATIC.index;
    if (!indexCache) indexCache = await api("");
    return indexCache;
  }

  const eventCache = new Map();
  async function getEvent(name) {
    if (STATIC) return STATIC.events[name] || null;
    if (!eventCache.has(name))
      eventCache.set(name, await api("/events/" + encodeURIComponent(name)));
    return eventCache.get(name);
  }

  // reestr diff's lines, from the event page (every pair of a short
  // history) or, when served, from the diff route
  async function getDiff(ev, from, to) {
    if (from === to) return [];
    const d = ev.diffs.find((x) => x.from === from && x.to === to);
    if (d) return d.changes;
    if (STATIC) return null;
    const r = await api(`/events/${encodeURIComponent(ev.name)}/diff/${from}/${to}`);
    return r ? r.changes : null;
  }

  // --- DOM ----------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      // through the CSSOM: the collector's Content-Security-Policy
      // refuses style attributes
      else if (k === "style") for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // replaceChildren, flattening arrays and leaving out null and false
  const fill = (el, ...children) =>
    el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));

  const link = (kind, name) => h("a", { href: `#/${kind}/${encodeURIComponent(name)}` }, name);
  const links = (kind, names) =>
    names.length ? names.flatMap((n, i) => (i ? [", ", link(kind, n)] : [link(kind, n)])) : [h("span", { class: "muted" }, "none")];
  const badge = (text, cls) => h("span", { class: "badge " + (cls || text) }, text);

  function render(title, ...children) {
    document.title = title + " · reestr catalogue";
    fill(main, ...children);
  }

  // --- the catalogue: search and filters -------------------------------

  function matches(ev, q) {
    if (!q) return true;
    q = q.toLowerCase();
    if (ev.name.toLowerCase().includes(q) || ev.description.toLowerCase().includes(q)) return true;
    return ev.fields.some(([path, desc]) => path.toLowerCase().includes(q) || desc.toLowerCase().includes(q));
  }

  function hashParams() {
    const i = location.hash.indexOf("?");
    return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
  }

  function setParams(base, params) {
    const s = params.toString();
    history.replaceState(null, "", base + (s ? "?" + s : ""));
  }

  async function catalogue() {
    const idx = await getIndex();
    const params = hashParams();
    const statuses = ["active", "deprecated", "decommissioned"];
    const select = (name, label, values) =>
      h("label", {}, label,
        h("select", { name, id: "filter-" + name },
          h("option", { value: "" }, "any"),
          values.map((v) => h("option", { value: v, selected: params.get(name) === v }, v))));
    const search = h("input", {
      type: "search", id: "search", name: "q", value: params.get("q") || "",
      placeholder: "name, field or description",
    });
    // what the collector's data folder says (null in a static site built
    // without --data and to a key that may not read the data): marked
    // data-store
    const knowDeviations = idx.events.some((e) => e.open_deviations !== null && e.open_deviations !== undefined);
    const knowUnused = idx.events.some((e) => e.versions.some((v) => v.unused !== null && v.unused !== undefined));
    const check = (name, label) =>
      h("label", { class: "check", "data-store": "" },
        h("input", { type: "checkbox", name, value: "1", id: "filter-" + name, checked: params.get(name) === "1" }), label);
    const form = h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("label", {}, "Search", search),
      select("environment", "Environment", idx.environments.map((e) => e.name)),
      select("owner", "Owner", idx.owners.map((o) => o.name)),
      select("source", "Source", idx.sources.map((s) => s.name)),
      select("status", "Status", statuses),
      knowDeviations ? check("deviations", "Has open deviations") : null,
      knowUnused ? check("unused", "Unused versions") : null);
    const count = h("p", { class: "count", id: "count", "aria-live": "polite" });
    const tbody = h("tbody");
    const table = h("table", { id: "events" },
      h("caption", { class: "muted" }, "Events; the latest version's status"),
      h("thead", {}, h("tr", {}, ["Event", "Id", "Owner", "Environments", "Versions", "Status", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      tbody);
    function update() {
      const f = Object.fromEntries(new FormData(form));
      const shown = idx.events.filter((ev) =>
        matches(ev, f.q) &&
        (!f.environment || ev.environments.includes(f.environment)) &&
        (!f.owner || ev.owner === f.owner) &&
        (!f.source || ev.sources.includes(f.source)) &&
        (!f.status || ev.versions.at(-1).status === f.status || ev.status === f.status) &&
        (!f.deviations || ev.open_deviations > 0) &&
        (!f.unused || ev.versions.some((v) => v.unused === true)));
      fill(tbody, ...shown.map((ev) => h("tr", { "data-event": ev.name },
        h("td", {}, link("event", ev.name)),
        h("td", {}, ev.id),
        h("td", {}, link("owner", ev.owner)),
        h("td", {}, links("environment", ev.environments)),
        h("td", {}, ev.versions.length),
        h("td", {}, badge(ev.versions.at(-1).status),
          ev.open_deviations > 0 ? h("span", { "data-store": "" }, badge(`${ev.open_deviations} open deviation${ev.open_deviations > 1 ? "s" : ""}`, "deviation")) : null,
          ev.versions.some((v) => v.unused === true)
            ? h("span", { "data-store": "" }, badge("unused: " + ev.versions.filter((v) => v.unused === true).map((v) => "v" + v.number).join(", "), "unused"))
            : null),
        h("td", {}, ev.description))));
      count.textContent = `${shown.length} of ${idx.events.length} events`;
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
      setParams("#/", p);
    }
    form.addEventListener("input", update);
    render("Events", h("h1", {}, "Events"), form, count, table);
    update();
  }

  // --- an event -------------------------------------------------------------

  function constraintText(f) {
    const c = f.constraints;
    const parts = [];
    for (const k of ["min_length", "max_length", "min", "max", "max_items"])
      if (k in c) parts.push(`${k} ${c[k]}`);
    if (c.pattern) parts.push(`pattern ${c.pattern}`);
    if (f.type.kind === "enum") parts.push("one of " + f.type.values.join(", "));
    return parts.join("; ");
  }

  // a row per field, nested objects' fields below theirs, indented
  function fieldRows(fields, prefix, depth) {
    return fields.flatMap((f) => {
      const path = prefix ? `${prefix}.${f.name}` : f.name;
      let t = f.type;
      while (t.kind === "array") t = t.items;
      const type = t.kind === "object" && t.object ? [f.type_text.replace(t.object, ""), link("object", t.object)] : f.type_text;
      const row = h("tr", { "data-field": path },
        h("td", { class: "nested", style: { "--depth": String(depth) } }, h("code", {}, path)),
        h("td", {}, type),
        h("td", {}, f.required ? "required" : "optional"),
        h("td", {}, f.pii ? badge("PII", "pii") : ""),
        h("td", {}, constraintText(f)),
        h("td", {}, f.description));
      return [row, ...(t.kind === "object" ? fieldRows(t.fields, path, depth + 1) : [])];
    });
  }

  function fieldTable(fields) {
    return h("table", { class: "fields" },
      h("thead", {}, h("tr", {}, ["Field", "Type", "Required", "PII", "Constraints", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, fieldRows(fields, "", 0)));
  }

  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = h("textarea", { "aria-hidden": "true", style: { position: "absolute", left: "-9999px" } }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  }

  async function eventPage(name) {
    const ev = await getEvent(name);
    if (!ev) return notFound("event", name);
    const params = hashParams();
    const numbers = ev.versions.map((v) => v.number);
    let current = Number(params.get("v") ?? numbers.at(-1));
    if (!numbers.includes(current)) current = numbers.at(-1);
    let from = Number(params.get("from") ?? numbers.at(-2) ?? numbers[0]);
    let to = Number(params.get("to") ?? numbers.at(-1));

    const versionButtons = h("div", { role: "group", "aria-label": "Version", class: "versions" },
      ev.versions.map((v) => h("button", {
        type: "button", "data-version": v.number, "aria-pressed": String(v.number === current),
        onclick: () => { current = v.number; update(); },
      }, `v${v.number}`)));
    const side = h("div", { class: "side", id: "side-by-side" });
    const fields = h("div", { id: "fields" });
    const examples = h("div", { id: "examples" });
    const diffOut = h("ul", { class: "diff", id: "diff", "aria-live": "polite" });
    const pick = (id, label, value) => h("label", {}, label + " ",
      h("select", { id }, numbers.map((n) => h("option", { value: n, selected: n === value }, `v${n}`))));
    const fromSel = pick("diff-from", "From", from);
    const toSel = pick("diff-to", "to", to);

    async function showDiff() {
      from = Number(fromSel.querySelector("select").value);
      to = Number(toSel.querySelector("select").value);
      const changes = await getDiff(ev, from, to);
      if (changes === null)
        fill(diffOut, h("li", {}, `Not in this static site: run reestr diff --registry DIR ${ev.name} ${from} ${to}`));
      else if (!changes.length) fill(diffOut, h("li", {}, "no changes"));
      else fill(diffOut, ...changes.map((c) => h("li", { class: / removed$/.test(c) ? "removed" : / added/.test(c) ? "added" : "" }, c)));
      save();
    }
    fromSel.addEventListener("change", showDiff);
    toSel.addEventListener("change", showDiff);

    function save() {
      setParams(`#/event/${encodeURIComponent(ev.name)}`, new URLSearchParams({ v: current, from, to }));
    }

    function update() {
      for (const b of versionButtons.children) b.setAttribute("aria-pressed", String(Number(b.dataset.version) === current));
      const v = ev.versions.find((x) => x.number === current);
      fill(side, ...ev.versions.map((x) => h("section", { class: x.number === current ? "current" : "", "data-version": x.number },
        h("h3", {}, `v${x.number} `, badge(x.status), x.published ? "" : badge("unpublished")),
        x.description ? h("p", {}, x.description) : null,
        h("ul", {}, x.fields.map((f) => h("li", {}, h("code", {}, f.name), `: ${f.type_text}${f.required ? "" : " (optional)"}`))))));
      fill(fields, h("h2", {}, `Fields of v${current}`), fieldTable(v.fields));
      const progs = ev.examples ? ev.examples.programs.filter((p) => p.version === current) : [];
      fill(examples, h("h2", {}, `Examples for v${current}`),
        ev.examples
          ? h("p", { class: "muted" }, `From the ${ev.examples.environment} langpack (reestr gen --env ${ev.examples.environment}), sending as ${ev.examples.source}; each is checked by make test.`)
          : h("p", { class: "muted" }, "No environment lists this event, so no langpack has it."),
        progs.length || !ev.examples ? null : h("p", {}, "This version is in no langpack (decommissioned)."),
        progs.map((p) => {
          const button = h("button", { type: "button", class: "copy", "data-lang": p.lang }, "Copy");
          button.addEventListener("click", () => copy(p.code, button));
          return h("section", { class: "example", "data-lang": p.lang },
            h("header", {}, h("h3", {}, LANGS[p.lang] || p.lang), button),
            h("pre", { tabindex: "0" }, h("code", {}, p.code)));
        }));
      save();
    }

    render(ev.name,
      h("h1", {}, ev.name, " ", badge(ev.status)),
      h("p", {}, ev.description),
      h("dl", {},
        h("dt", {}, "Id"), h("dd", {}, ev.id),
        h("dt", {}, "Owner"), h("dd", {}, link("owner", ev.owner.name), ` (${ev.owner.contact})`),
        h("dt", {}, "Environments"), h("dd", {}, links("environment", ev.environments)),
        h("dt", {}, "Sources"), h("dd", {}, links("source", ev.sources))),
      h("h2", {}, "Lifecycle"),
      h("table", { id: "lifecycle" },
        h("thead", {}, h("tr", {}, ["Version", "Status", "Published", "Description"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ev.versions.map((v) => h("tr", {}, h("td", {}, `v${v.number}`), h("td", {}, badge(v.status)), h("td", {}, v.published ? "yes" : "no (may still change)"), h("td", {}, v.description))))),
      h("h2", {}, "Versions side by side"), versionButtons, side,
      fields,
      h("h2", {}, "Diff"), h("div", { class: "filters" }, fromSel, toSel), diffOut,
      examples,
      governance(ev));
    update();
    await showDiff();
  }

  // What the collector's data says of an event (docs/catalogue.md,
  // "Deviations, unused versions and live figures"): nothing in a static
  // site built without --data or to a key that may not read the data.
  // Marked data-store.
  const table = (id, caption, heads, rows) =>
    h("table", { id },
      h("caption", { class: "muted" }, caption),
      h("thead", {}, h("tr", {}, heads.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows));
  const when = (t) => (t ? t.replace(/\.\d+Z$/, "Z").replace("T", " ") : "none");
  const percent = (x) => `${(100 * x).toFixed(x && x < 0.01 ? 2 : 0)}%`;

  function governance(ev) {
    const parts = [];
    if (ev.deviations) {
      parts.push(h("section", { id: "deviations", "data-store": "" },
        h("h2", {}, "Deviations"),
        ev.deviations.length
          ? table("deviation-list", "Each rule that fired, newest last (reestr deviations show ID)",
            ["Id", "Kind", "Status", "Version", "Source", "First seen", "Last seen", "Evidence"],
            ev.deviations.map((d) => h("tr", { "data-deviation": d.id, "data-kind": d.kind, "data-status": d.status },
              h("td", {}, d.id), h("td", {}, d.kind), h("td", {}, badge(d.status)),
              h("td", {}, d.version === null ? "every" : `v${d.version}`), h("td", {}, d.source || "every"),
              h("td", {}, when(d.first_seen)), h("td", {}, when(d.last_seen)), h("td", {}, d.detail))))
          : h("p", { class: "muted" }, "None: every rule on this event holds.")));
    }
    if (ev.unused) {
      parts.push(h("section", { id: "unused", "data-store": "" },
        h("h2", {}, "Unused versions"),
        ev.unused.length
          ? h("ul", {}, ev.unused.map((u) => h("li", { "data-version": u.version }, `v${u.version}: ${u.evidence}`)))
          : h("p", { class: "muted" }, "None: every version was sent, its langpack downloaded or its code seen lately."),
        ...(ev.decommission || []).map((d) => {
          // the exact edit `reestr decommission` writes, for a person to review and commit
          const button = h("button", { type: "button", class: "copy" }, "Copy");
          button.addEventListener("click", () => copy(d.diff === null ? d.command : d.diff, button));
          return h("div", { class: "decommission", "data-version": d.version },
            h("h3", {}, `Decommission v${d.version}: the change to ${d.file}`),
            h("p", {}, "Run in the registry folder, or apply the diff and commit it: ", h("code", {}, d.command)),
            d.diff === null
              ? h("p", { class: "muted" }, `No diff: ${d.error}`)
              : h("div", { class: "example" }, button, h("pre", { tabindex: "0" }, h("code", {}, d.diff))));
        })));
    }
    if (ev.live_error) {
      parts.push(h("section", { id: "live", "data-store": "" },
        h("h2", {}, "Live figures"),
        h("p", { class: "muted", id: "live-error" }, `Not available: ${ev.live_error}`)));
    }
    if (ev.live) {
      const rows = ev.live.versions.flatMap((v) => v.sources.map((s) => h("tr", { "data-version": v.version, "data-source": s.source },
        h("td", {}, `v${v.version}`), h("td", {}, s.source), h("td", {}, s.accepted), h("td", {}, s.rejected),
        h("td", {}, s.per_hour.toFixed(2)), h("td", {}, percent(s.reject_rate)))));
      parts.push(h("section", { id: "live", "data-store": "" },
        h("h2", {}, "Live figures"),
        h("p", { class: "muted" }, `The ${ev.live.hours} hours from ${when(ev.live.from)} to ${when(ev.live.to)}, by the hour the collector received the events.`),
        rows.length
          ? table("live-figures", "Per version and source", ["Version", "Source", "Accepted", "Rejected", "Per hour", "Reject rate"], rows)
          : h("p", {}, "No events received."),
        ev.live.reasons.length
          ? [h("h3", {}, "Top reject reasons"), h("ol", { id: "reasons" }, ev.live.reasons.map((r) => h("li", {}, `${r.reason} (${r.count})`,
            r.samples && r.samples.length
              ? h("ul", { class: "samples" }, r.samples.map((x) => h("li", {}, h("code", {}, x.payload),
                x.truncated ? ` (${x.length} bytes in all)` : "")))
              : null)))]
          : null));
    }
    return parts;
  }

  // --- owners, sources, objects, environments ---------------------------

  const KINDS = {
    owner: { list: "owners", title: "Owners" },
    source: { list: "sources", title: "Sources" },
    object: { list: "objects", title: "Objects" },
    environment: { list: "environments", title: "Environments" },
  };

  async function listPage(kind) {
    const idx = await getIndex();
    const { list, title } = KINDS[kind];
    const rows = idx[list].map((x) => h("li", {}, link(kind, x.name), x.description ? ` — ${x.description}` : ""));
    const extra = kind === "owner"
      ? [h("h2", {}, "Unowned"), h("p", {}, "Objects no event uses: ", links("object", idx.unowned.objects))]
      : [];
    render(title, h("h1", {}, title), h("ul", { id: list }, rows), extra);
  }

  async function itemPage(kind, name) {
    const idx = await getIndex();
    const x = idx[KINDS[kind].list].find((i) => i.name === name);
    if (!x) return notFound(kind, name);
    const rows = [];
    const row = (label, value) => rows.push(h("dt", {}, label), h("dd", {}, value));
    if (kind === "owner") {
      row("Contact", x.contact);
      if (x.open_deviations > 0) rows.push(h("dt", { "data-store": "" }, "Open deviations"), h("dd", { "data-store": "" }, x.open_deviations));
      row("Events", links("event", x.events));
      row("Sources", links("source", x.sources));
      row("Objects", links("object", x.objects));
    } else if (kind === "source") {
      row("Owner", link("owner", x.owner.name));
      if (x.app) row("Mobile app", [`${x.app.id}, environment `, link("environment", x.app.environment)]);
      row("May send", links("event", x.events));
    } else if (kind === "object") {
      row("Owners", links("owner", x.owners));
      row("Used by", links("event", x.events));
    } else {
      row("Events", links("event", x.events));
      row("Browser origins", x.origins.length ? x.origins.join(", ") : "none (not browser-facing)");
    }
    render(name, h("h1", {}, `${kind[0].toUpperCase() + kind.slice(1)} ${name}`),
      x.description ? h("p", {}, x.description) : null,
      h("dl", {}, rows),
      kind === "object" ? [h("h2", {}, "Fields"), fieldTable(x.fields)] : null);
  }

  function notFound(kind, name) {
    render("Not found", h("h1", {}, "Not found"), h("p", { class: "notice" }, `No ${kind} named ${name} in this registry. `, h("a", { href: "#/" }, "All events")));
  }

  function askKey(message) {
    const input = h("input", { type: "password", id: "key", autocomplete: "off" });
    render("Key needed", h("h1", {}, "A read key is needed"),
      h("p", { class: "notice" }, message),
      h("form", { class: "filters", onsubmit: (e) => {
        e.preventDefault();
        sessionStorage.setItem(KEY_STORE, input.value.trim());
        indexCache = null;
        eventCache.clear();
        route();
      } }, h("label", {}, "Read key (kept for this tab only)", input), h("button", { type: "submit" }, "Open")));
  }

  // --- routing --------------------------------------------------------------

  async function route() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const path = hash.split("?")[0];
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (!parts.length) await catalogue();
      else if (parts[0] === "event" && parts.length === 2) await eventPage(parts[1]);
      else if (parts.length === 1 && Object.values(KINDS).some((k) => k.list === parts[0]))
        await listPage(Object.keys(KINDS).find((k) => KINDS[k].list === parts[0]));
      else if (parts.length === 2 && KINDS[parts[0]]) await itemPage(parts[0], parts[1]);
      else notFound("page", path);
    } catch (e) {
      if (e instanceof NeedKey) askKey("This collector asks for a key to read its catalogue (docs/security.md).");
      else render("Error", h("h1", {}, "Something went wrong"), h("pre", {}, String(e)));
    }
    main.dataset.routed = String(++routed);
  }

  let routed = 0;
  let lastPath = null;
  window.addEventListener("hashchange", () => {
    // a filter's own hash edits (replaceState) fire no hashchange; a new
    // page does
    const path = location.hash.split("?")[0];
    if (path !== lastPath) main.focus();
    lastPath = path;
    route();
  });
  lastPath = location.hash.split("?")[0];
  // a static site built with the data folder (reestr docs --data) says
  // when it read it, on every page, beside the header
  if (STATIC && STATIC.as_of) {
    document.querySelector("header.top").after(h("p", { id: "as-of", class: "as-of", role: "note" },
      `Deviations, unused versions and live figures as of ${when(STATIC.as_of)} (when this site was built; `,
      h("code", {}, "reestr docs --data"), ").")); 
  }
  route();
})();
