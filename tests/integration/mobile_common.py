"""Helpers of the mobile proxy's tests: the Python code of proto/ made by the
real protoc (the `protobuf` package reads and writes the bytes), a registry
with an app and every field type, and a client for POST /v1/mobile."""

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import ROOT

PROTO = ROOT / "proto"

_pb2 = None


def pb2():
    """reestr/mobile_pb2, generated once per run from proto/ by protoc."""
    global _pb2
    if _pb2 is None:
        out = Path(tempfile.mkdtemp(prefix="reestr-mobile-pb2-"))
        subprocess.run(["protoc", f"--python_out={out}", f"-I{PROTO}",
                        "reestr/mobile.proto"], check=True)
        sys.path.insert(0, str(out))
        _pb2 = importlib.import_module("reestr.mobile_pb2")
    return _pb2


REGISTRY = {
    "owners.yaml": """
owners:
  apps:
    contact: apps@example.com
""",
    "sources.yaml": """
sources:
  android-app:
    owner: apps
    app:
      id: com.example.android
      environment: mobile
  backend:
    owner: apps
""",
    "environments.yaml": """
environments:
  mobile:
    events: [app_action]
  bo:
    events: [app_action]
""",
    "objects.yaml": """
objects:
  device_user:
    fields:
      id:
        type: int
        min: 1
      premium:
        type: bool
        required: false
""",
    "events.yaml": """
events:
  app_action:
    id: 900
    owner: apps
    versions:
      - version: 0
        fields:
          user:
            type: device_user
          screen:
            type: enum
            values: [home, item, cart]
          count:
            type: int
          score:
            type: float
            required: false
          opened_at:
            type: timestamp
            required: false
          tags:
            type: array
            items: string
            required: false
          items:
            type: array
            items:
              type: object
              fields:
                id:
                  type: int
                price:
                  type: float
                  required: false
            required: false
          note:
            type: string
            required: false
""",
}


def write_registry(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in REGISTRY.items():
        (folder / name).write_text(text.lstrip())
    return folder


def batch(events=(), app_id="com.example.android", **envelope):
    """A MobileAppEventBatch; events are dicts of MobileAppEvent's fields."""
    m = pb2()
    b = m.MobileAppEventBatch(app_id=app_id, platform="android",
                              app_version="5.1.0", **envelope)
    for e in events:
        e = dict(e)
        params = e.pop("params", {})
        ev = b.events.add(**e)
        ev.params.update(params)
    return b


def post(server, body, accept=None, headers=None):
    """POSTs bytes (or a batch message) to /v1/mobile."""
    if not isinstance(body, bytes):
        body = body.SerializeToString()
    h = {"Content-Type": "application/x-protobuf"}
    if accept:
        h["Accept"] = accept
    h.update(headers or {})
    return server.request("POST", "/v1/mobile", body, h)


def post_json(server, body, **kw):
    resp = post(server, body, accept="application/json", **kw)
    assert resp.headers.get("Content-Type") == "application/json", resp.raw
    return resp


def results(resp):
    assert resp.status == 200, resp.raw
    return resp.json()["results"]
