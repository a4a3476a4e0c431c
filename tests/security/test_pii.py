"""Personal data handled by policy (issue 14, docs/security.md, "Personal
data"): fields marked `pii: true` are stored, hashed, redacted or refused by
their environment's `pii:` policy, at the collector, before anything is
stored: in the events, in failed_events, and in Kafka's messages."""

import hashlib
import hmac
import json
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# mobile_common and test_external, shared with tests/integration
sys.path.insert(0, str(ROOT / "tests" / "integration"))
# tests/security/conftest.py: the integration harness's Server, which runs
# --insecure-local (no keys: these tests are of the policy, not of keys)
from conftest import Server, query, run, uuid7, now_rfc3339  # noqa: E402

EMAIL = "jane.doe@example.com"
IP = "203.0.113.77"
PHONE = 447700900123
BIRTH = "1990-02-03T04:05:06Z"
TAGS = ["vip", "newsletter"]

REGISTRY = """\
owners:
  team: {contact: team@example.com}
sources:
  svc: {owner: team}
environments:
  keep: {pii: store, events: [signup]}
  hashed: {pii: hash, events: [signup]}
  redacted: {pii: redact, events: [signup]}
  refused: {pii: reject, events: [signup]}
  unset: {events: [signup]}
objects:
  user:
    fields:
      id: {type: int, min: 1}
      email: {type: string, max_length: 40, required: false, pii: true}
      ip: {type: string, max_length: 45, required: false, pii: true}
events:
  signup:
    id: 7
    owner: team
    versions:
      - version: 0
        fields:
          user: {type: user}
          phone: {type: int, required: false, pii: true}
          born: {type: timestamp, required: false, pii: true}
          tags: {type: array, items: string, required: false, pii: true}
          plan: {type: enum, values: [free, paid]}
"""


def write_registry(path, text=REGISTRY):
    path.mkdir(parents=True, exist_ok=True)
    (path / "registry.yaml").write_text(text)
    return path


def signup(env, **over):
    fields = {"user": {"id": 5, "email": EMAIL, "ip": IP}, "phone": PHONE,
              "born": BIRTH, "tags": TAGS, "plan": "paid"}
    fields.update(over)
    return {"event_id": 7, "version": 0, "uuid": uuid7(),
            "time": now_rfc3339(), "environment": env, "source": "svc",
            "fields": fields}


def mac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def canonical(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def collector(tmp_path):
    servers = []

    def make(registry=None, data=None, extra_args=()):
        reg = registry or write_registry(tmp_path / "registry")
        s = Server(reg, data or tmp_path / f"data{len(servers)}", extra_args)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


def rows(s, env):
    return query(s.data, "SELECT v.uuid, (SELECT fields FROM events e "
                 "WHERE e.uuid = v.uuid) AS fields, user_id, user_email, "
                 "user_ip, phone, born, tags, plan FROM signup_v0 v "
                 f"WHERE environment = '{env}'")


def failed(s):
    return query(s.data, "SELECT reason, payload, payload_length, "
                 "payload_sha256 FROM failed_events ORDER BY rowid")


def no_clear_pii(text):
    for v in (EMAIL, IP, str(PHONE), "1990-02-03", "newsletter"):
        assert v not in text, f"{v!r} in clear in {text!r}"


def test_each_policy_stores_what_it_should(collector):
    s = collector()
    key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
    envs = ["keep", "hashed", "redacted", "unset"]
    r = s.post_events([signup(e) for e in envs])
    assert r.status == 200 and r.json()["accepted"] == 4, r.raw

    keep = rows(s, "keep")[0]
    assert (keep["user_email"], keep["user_ip"], keep["phone"],
            keep["born"]) == (EMAIL, IP, PHONE, "1990-02-03T04:05:06.000000Z")
    assert json.loads(keep["tags"]) == TAGS

    h = rows(s, "hashed")[0]
    assert h["user_id"] == 5 and h["plan"] == "paid"   # not marked: as sent
    assert h["user_email"] == mac(key, EMAIL)         # a string: its text
    assert h["user_ip"] == mac(key, IP)
    assert h["phone"] == mac(key, str(PHONE))         # others: canonical JSON
    assert h["born"] == mac(key, "1990-02-03T04:05:06.000000Z")
    assert h["tags"] == mac(key, canonical(TAGS))
    no_clear_pii(h["fields"])

    for env in ("redacted", "unset"):   # redact is the default
        red = rows(s, env)[0]
        assert red["user_id"] == 5 and red["plan"] == "paid"
        for col in ("user_email", "user_ip", "phone", "born", "tags"):
            assert red[col] is None, (env, col, red)
        no_clear_pii(red["fields"])

    stats = s.request("GET", "/v1/stats").json()
    assert stats["pii"] == {"hashed": 5, "redacted": 10, "rejected": 0}
    assert "hours" in stats


def test_reject_refuses_the_event_naming_the_field(collector):
    s = collector()
    r = s.post_events([signup("refused"),
                       signup("refused", user={"id": 6}, phone=None, born=None,
                              tags=None)])
    res = r.json()["results"]
    assert res[0]["status"] == "rejected"
    assert res[0]["error"].startswith("fields.user.email: personal data")
    assert "environments.refused.pii: reject" in res[0]["error"]
    assert res[1]["status"] == "accepted"   # no personal value given
    assert query(s.data, "SELECT count(*) AS n FROM signup_v0") == [{"n": 1}]
    f = failed(s)
    assert len(f) == 1
    no_clear_pii(f[0]["payload"])
    assert json.loads(f[0]["payload"])["fields"]["user"]["email"] is None
    assert s.request("GET", "/v1/stats").json()["pii"]["rejected"] == 1


def test_hash_is_keyed_and_stable(collector, tmp_path):
    a = collector()
    a.post_events([signup("hashed"), signup("hashed")])
    h1, h2 = (r["user_email"] for r in rows(a, "hashed"))
    assert h1 == h2 and len(h1) == 64   # same input, same output: joins
    key_file = a.data / "pii.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # another key, another hash; --pii-key-file names it
    other = tmp_path / "other.key"
    other.write_text("k" * 40 + "\n")
    other.chmod(0o600)
    b = collector(extra_args=["--pii-key-file", str(other)])
    b.post_events([signup("hashed")])
    h3 = rows(b, "hashed")[0]["user_email"]
    assert h3 != h1 and h3 == mac(b"k" * 40, EMAIL)
    assert not (b.data / "pii.key").exists()
    # a restart keeps the key made on first use
    a.stop()
    a.start()
    a.post_events([signup("hashed")])
    assert {r["user_email"] for r in rows(a, "hashed")} == {h1}


def test_key_file_refused_when_others_may_read_it(tmp_path):
    key = tmp_path / "open.key"
    key.write_text("k" * 40)
    key.chmod(0o644)
    s = Server(write_registry(tmp_path / "registry"), tmp_path / "data",
               ["--pii-key-file", str(key)])
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert "may be read by group or others (mode 0644): chmod 600" in str(e.value)
    short = tmp_path / "short.key"
    short.write_text("abc")
    short.chmod(0o600)
    s = Server(write_registry(tmp_path / "registry"), tmp_path / "data2",
               ["--pii-key-file", str(short)])
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert "fewer than the 32 a key needs" in str(e.value)


@pytest.mark.parametrize("env", ["hashed", "redacted", "refused", "unset"])
def test_failed_events_hold_no_clear_pii(collector, env):
    s = collector()
    key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
    bad = [
        # invalid for another reason: an unknown plan
        signup(env, plan="gold"),
        # a personal value that is itself invalid: too long
        signup(env, user={"id": 5, "email": EMAIL + "x" * 30, "ip": IP}),
        # an unknown version: every version's marked fields are found
        dict(signup(env), version=9),
        # an unknown event: its fields cannot be classified, so not kept
        dict(signup(env), event_id=999),
        # an unknown environment: the safe policy, redact
        dict(signup(env), environment="nowhere"),
        # fields that are no object
        dict(signup(env), fields=[EMAIL, IP, PHONE, "1990-02-03", "newsletter"]),
    ]
    r = s.post_events(bad)
    assert r.json()["rejected"] == len(bad), r.raw
    f = failed(s)
    assert len(f) == len(bad)
    for row, sent in zip(f, bad):
        no_clear_pii(row["payload"])
        no_clear_pii(row["reason"])
        # the length and hash are those of what was received
        text = json.dumps(sent).encode()
        assert row["payload_length"] == len(text)
        assert row["payload_sha256"] == hashlib.sha256(text).hexdigest()
    first = json.loads(f[0]["payload"])
    if env == "hashed":
        assert first["fields"]["user"]["email"] == mac(key, EMAIL)
        assert first["fields"]["phone"] == mac(key, str(PHONE))
    else:
        assert first["fields"]["user"]["email"] is None
    assert first["fields"]["plan"] == "gold"   # the rest kept, to debug
    # an unknown event's fields: replaced whole (hashed, or null)
    unknown = json.loads(f[3]["payload"])["fields"]
    assert (len(unknown) == 64 if env == "hashed" else unknown is None)
    assert json.loads(f[4]["payload"])["fields"]["user"]["email"] is None


def test_failed_events_in_clear_under_store(collector):
    s = collector()
    s.post_events([signup("keep", plan="gold")])
    assert EMAIL in failed(s)[0]["payload"]


def test_failed_event_over_a_limit_is_withheld(collector):
    s = collector(extra_args=["--max-string-bytes", "2000"])
    big = signup("redacted", user={"id": 5, "email": EMAIL, "ip": IP},
                 plan="x" * 3000)
    r = s.post_events([big])
    assert r.json()["rejected"] == 1
    row = failed(s)[0]
    no_clear_pii(row["payload"])
    assert "withheld" in json.loads(row["payload"])


def test_reason_does_not_show_a_personal_value(collector, tmp_path):
    reg = write_registry(tmp_path / "reg2", REGISTRY.replace(
        "phone: {type: int, required: false, pii: true}",
        "phone: {type: int, max: 100, required: false, pii: true}"))
    s = collector(registry=reg)
    r = s.post_events([signup("redacted"), signup("keep")])
    res = r.json()["results"]
    assert res[0]["error"] == ("fields.phone: the value (personal data, not "
                               "shown) is out of its bounds")
    assert str(PHONE) in res[1]["error"]   # stored as sent: shown


def test_mobile_route_applies_the_policy(collector, tmp_path):
    """POST /v1/mobile goes through the same batch code: the policy of the
    app's environment, in the rows and in failed_events."""
    from mobile_common import batch, post_json, results
    reg = write_registry(tmp_path / "regm", REGISTRY.replace(
        "  svc: {owner: team}",
        "  svc: {owner: team}\n  phone-app: {owner: team, app: {id: "
        "com.example.app, environment: hashed}}"))
    s = collector(registry=reg)
    key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
    params = {"user.id": "5", "user.email": EMAIL, "user.ip": IP,
              "phone": str(PHONE), "plan": "paid"}
    evs = [{"eventId": 7, "version": 0, "timestamp_ms": 1764547200000,
            "params": p} for p in (
                params,
                dict(params, **{"user.id": "0"}),  # rejected by validation
                dict(params, phone="12ab"))]    # not converted: no tree
    rs = results(post_json(s, batch(evs, app_id="com.example.app")))
    assert [r["status"] for r in rs] == ["accepted", "rejected", "rejected"]
    [row] = rows(s, "hashed")
    assert row["user_email"] == mac(key, EMAIL)
    assert row["phone"] == mac(key, str(PHONE))
    no_clear_pii(row["fields"])
    f = failed(s)
    assert len(f) == 2
    for r in f:
        no_clear_pii(r["payload"])
    by_reason = {r["reason"].split(":")[0]: json.loads(r["payload"]) for r in f}
    kept = by_reason["fields.user.id"]
    assert kept["fields"]["user"] == {"id": 0, "email": mac(key, EMAIL),
                                      "ip": mac(key, IP)}
    assert "withheld" in by_reason["param phone"]
    # the reason does not show the personal value either (as the JSON
    # route's validator: "the value (personal data, not shown)")
    [conv] = [r["reason"] for r in f if r["reason"].startswith("param phone")]
    assert "12ab" not in conv and "not shown (personal data)" in conv, conv


@pytest.mark.parametrize("env", ["keep", "hashed", "redacted", "refused"])
def test_mobile_and_json_routes_apply_the_same_policy(collector, tmp_path, env):
    """The same event posted as JSON (/v1/events) and as protobuf
    (/v1/mobile, an app of the environment): the same answer, the same
    stored columns and fields, the same reason and, where the policy
    rewrites it, the same failed payload's fields."""
    from mobile_common import batch, post_json, results
    reg = write_registry(tmp_path / "regt", REGISTRY.replace(
        "  svc: {owner: team}",
        f"  svc: {{owner: team}}\n  app: {{owner: team, app: {{id: "
        f"com.example.{env}, environment: {env}}}}}"))
    s = collector(registry=reg)
    params = {"user.id": "5", "user.email": EMAIL, "user.ip": IP,
              "phone": str(PHONE), "born": BIRTH, "tags.0": TAGS[0],
              "tags.1": TAGS[1], "plan": "paid"}
    bad = dict(params, **{"user.id": "0"})   # refused by validation
    j = s.post_events([dict(signup(env), source="app"),
                       dict(signup(env, user={"id": 0, "email": EMAIL,
                                              "ip": IP}), source="app")])
    m = results(post_json(s, batch(
        [{"eventId": 7, "version": 0, "timestamp_ms": 1764547200000,
          "params": p} for p in (params, bad)],
        app_id=f"com.example.{env}")))
    jr = j.json()["results"]
    assert [r["status"] for r in jr] == [r["status"] for r in m]
    assert [r.get("error") for r in jr] == [r.get("error") for r in m]
    got = rows(s, env)
    if env == "refused":
        assert got == [] and jr[0]["status"] == "rejected"
    else:
        assert len(got) == 2
        for r in got:
            del r["uuid"]
        assert got[0] == got[1]
        if env != "keep":
            no_clear_pii(json.dumps(got))
    f = failed(s)
    assert len(f) == 4 if env == "refused" else len(f) == 2
    if env == "keep":
        assert all(EMAIL in r["payload"] for r in f)
    else:
        for r in f:
            no_clear_pii(r["payload"])
            no_clear_pii(r["reason"])
        half = len(f) // 2
        for a, b in zip(f[:half], f[half:]):
            assert a["reason"] == b["reason"]
            fa = json.loads(a["payload"])["fields"]
            fb = json.loads(b["payload"])["fields"]
            # a timestamp is kept as received: the JSON route's text as
            # sent, the mobile route's as its param converted (the text
            # the accepted row's hash is of), so they differ when hashed
            born_a, born_b = fa.pop("born"), fb.pop("born")
            assert fa == fb
            if env == "hashed":
                key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
                assert born_a == mac(key, BIRTH)
                assert born_b == got[0]["born"]
            else:
                assert born_a is None and born_b is None


def check_warnings(tmp_path, text):
    reg = write_registry(tmp_path / "lint", text)
    out = run("check", str(reg))
    return out


def test_check_warns_about_unmarked_personal_names(tmp_path):
    text = REGISTRY.replace(
        "      ip: {type: string, max_length: 45, required: false, pii: true}",
        "      ip: {type: string, max_length: 45, required: false}\n"
        "      first_name: {type: string, required: false}\n"
        "      name: {type: string, required: false}\n"
        "      phone_ok: {type: int, required: false}\n"
        "      zip: {type: string, required: false}")
    out = check_warnings(tmp_path, text)
    assert out.returncode == 0, out.stderr
    lines = [l for l in (out.stdout + out.stderr).splitlines() if "personal" in l]
    assert any(l.startswith("registry.yaml:16:7: warning: field 'ip' of object user")
               and "('ip')" in l and "pii: true" in l for l in lines), lines
    assert any("field 'first_name'" in l and "('first_name')" in l for l in lines)
    # a bare name is an item's too; an int is no string; zip is not a word
    assert not any("'name'" in l or "'phone_ok'" in l or "'zip'" in l
                   for l in lines), lines
    assert len(lines) == 2


# libfyaml places a flow collection at its first item
@pytest.mark.parametrize("value,shown,col", [("hashes", "'hashes'", 17),
                                             ("[hash]", "a list", 18),
                                             ("{a: 1}", "a mapping", 18),
                                             ("true", "'true'", 17)])
def test_check_refuses_a_bad_policy_at_its_place(tmp_path, value, shown, col):
    text = REGISTRY.replace("  hashed: {pii: hash,", f"  hashed: {{pii: {value},")
    out = check_warnings(tmp_path, text)
    assert out.returncode != 0
    want = (f"registry.yaml:7:{col}: pii of environment 'hashed' must be one of "
            f"store, hash, redact, reject, not {shown}")
    assert want in out.stderr + out.stdout, out.stderr + out.stdout


@pytest.mark.parametrize("lang", ["go", "python", "php", "ts"])
def test_generated_code_says_the_environments_policy(tmp_path, lang):
    reg = write_registry(tmp_path / "registry")
    wants = {"hashed": "hashed (HMAC-SHA-256) by the collector in environment "
                       "hashed (pii: hash)",
             "unset": "not stored (redacted) by the collector in environment "
                      "unset (pii: redact, the default)",
             "refused": "refused by the collector: an event giving it is "
                        "rejected in environment refused (pii: reject)",
             "keep": "stored as sent in environment keep (pii: store)"}
    for env, want in wants.items():
        out = tmp_path / f"{lang}-{env}"
        r = run("gen", "--registry", str(reg), "--env", env, "--lang", lang,
                "--out", str(out))
        assert r.returncode == 0, r.stderr
        # doc comments wrap: compare the words
        text = " ".join(" ".join(
            l.strip().lstrip("/*#").strip() for l in f.read_text().splitlines())
            for f in out.rglob("*") if f.is_file()
            and f.suffix in (".go", ".py", ".php", ".ts") and "signup" in f.name.lower()
            or f.is_file() and f.name in ("objects.py", "User.php", "index.d.ts")
            or f.is_file() and f.name.endswith("_object.go"))
        assert "personal data, " + want in " ".join(text.split()), (env, lang)


def test_a_reload_changes_the_policy_and_makes_the_key(collector, tmp_path):
    """No environment hashes at start, so no key is made; a reload that
    turns `keep` to hash makes it on first use and applies it at once."""
    import time
    reg = write_registry(tmp_path / "regr", REGISTRY.replace(
        "  hashed: {pii: hash, events: [signup]}\n", ""))
    s = collector(registry=reg)
    assert not (s.data / "pii.key").exists()
    s.post_events([signup("keep")])
    assert rows(s, "keep")[0]["user_email"] == EMAIL
    text = (reg / "registry.yaml").read_text()
    (reg / "registry.yaml").write_text(text.replace(
        "keep: {pii: store,", "keep: {pii: hash,"))
    deadline = time.monotonic() + 30
    while "reloaded registry" not in s.log.read_text():
        assert time.monotonic() < deadline, s.log.read_text()
        time.sleep(0.05)
    s.post_events([signup("keep")])
    key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
    assert sorted(r["user_email"] for r in rows(s, "keep")) == sorted(
        [EMAIL, mac(key, EMAIL)])


def test_log_summary_counts_personal_data(collector):
    import re
    import time
    s = collector(extra_args=["--log-summary-seconds", "1"])
    s.post_events([signup("hashed"), signup("redacted"), signup("refused")])
    deadline = time.monotonic() + 30
    pat = re.compile(r"^reestr serve: personal data in the last \d+ s: 5 "
                     r"values hashed, 5 redacted, 1 event refused "
                     r"\(environments\.\*\.pii\)$", re.M)
    while not pat.search(s.log.read_text()):
        assert time.monotonic() < deadline, s.log.read_text()
        time.sleep(0.1)
    # the summary never shows a value
    no_clear_pii(s.log.read_text())


def test_external_route_applies_the_policy(collector, tmp_path):
    """POST /v1/external/{mapping} goes through the same batch code: the
    partner's e-mail is hashed in the row and in failed_events."""
    import shutil
    from test_external import PB, add_rich, protoc_module
    reg = tmp_path / "regx"
    shutil.copytree(ROOT / "examples" / "registry", reg)
    add_rich(reg)
    env = reg / "environments.yaml"
    text = env.read_text().replace(
        "External projects, whose own messages the proxy maps to events "
        "(mappings/).\n    pii: store\n",
        "External projects.\n    pii: hash\n")
    assert "pii: hash" in text
    env.write_text(text)
    acme = protoc_module(reg / "mappings" / "acme.proto", tmp_path)
    s = collector(registry=reg)
    key = (s.data / "pii.key").read_bytes().rstrip(b"\n")
    buyer = acme.Order.Buyer(id=413, email=EMAIL)
    ok = acme.Order(order_uuid=uuid7(), placed_at_ms=1764547200123,
                    buyer=buyer, listing=99, platform=acme.Order.IOS,
                    total=12.5)
    bad = acme.Order(order_uuid=uuid7(), placed_at_ms=1764547200123,
                     buyer=buyer, listing=99, platform=acme.Order.IOS,
                     total=-1)   # under min 0: refused by validation
    for msg, status in ((ok, "accepted"), (bad, "rejected")):
        r = s.request("POST", "/v1/external/acme_orders",
                      msg.SerializeToString(), PB)
        assert r.json()["results"][0]["status"] == status, r.raw
    [row] = query(s.data, "SELECT user_id, user_email FROM partner_order_v0")
    assert row == {"user_id": 413, "user_email": mac(key, EMAIL)}
    [f] = failed(s)
    assert EMAIL not in f["payload"]
    assert json.loads(f["payload"])["fields"]["user"]["email"] == mac(key, EMAIL)


def test_the_loader_reads_back_what_the_policy_stored(collector, tmp_path):
    """reestr load checks each event against its version again: a hash in
    place of an int, a required field redacted, pass; nothing is hashed
    twice (docs/scale-out.md)."""
    reg = write_registry(tmp_path / "regl", REGISTRY.replace(
        "phone: {type: int, required: false, pii: true}",
        "phone: {type: int, pii: true}"))
    s = collector(registry=reg)
    evs = [signup(e) for e in ("keep", "hashed", "redacted", "unset")]
    r = s.post_events(evs)
    assert r.json()["accepted"] == 4, r.raw
    s.stop()
    dst = s.data.parent / "copy"
    out = run("load", "--from", "sqlite", "--from-data", str(s.data), "--to",
              "sqlite", "--data", str(dst), "--registry", str(s.registry))
    assert out.returncode == 0, out.stderr
    assert "stored 4, duplicate 0, failed 0," in out.stderr, out.stderr
    cols = "uuid, environment, fields"
    got = query(dst, f"SELECT {cols} FROM events ORDER BY uuid")
    assert got == query(s.data, f"SELECT {cols} FROM events ORDER BY uuid")
    redacted = [json.loads(r["fields"]) for r in got
                if r["environment"] == "redacted"]
    assert "phone" not in redacted[0]   # required, and redacted
