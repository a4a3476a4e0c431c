"""Loading the validation cases (tests/validation/cases/*.json, format in
README.md) and turning a case file into a registry folder."""

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REESTR = os.environ.get("REESTR_BIN", str(ROOT / "build" / "reestr"))
CASES_DIR = HERE / "cases"
VALIDATORS = ["collector", "go", "python", "php", "ts"]
EVENT_NAME = "validation_case"
EVENT_ID = 1
ENVIRONMENT = "bo"
SOURCE = "validation-runner"

with open(HERE / "reasons.json", encoding="utf-8") as _f:
    REASONS = json.load(_f)

_CASE_KEYS = {"name", "value", "raw", "verdict", "path", "reason", "note",
              "expect", "not_for"}
_FILE_KEYS = {"description", "fields", "objects", "cases"}


@dataclass
class Case:
    file: str   # the case file's stem
    index: int  # position in the file
    name: str
    verdict: str
    path: Optional[str]
    reason: Optional[str]
    value: Any = None     # when not raw
    raw: Optional[str] = None
    note: str = ""
    expect: dict = field(default_factory=dict)
    not_for: dict = field(default_factory=dict)

    @property
    def id(self):
        return f"{self.file}[{self.index}-{self.name}]"

    def fields_bytes(self) -> bytes:
        """The fields object as the bytes a sender puts on the wire."""
        if self.raw is None:
            return json.dumps(self.value, ensure_ascii=False).encode()
        return raw_bytes(self.raw)

    def expected(self, validator: str) -> dict:
        """verdict, path, reason and request for one validator."""
        e = {"verdict": self.verdict, "path": self.path,
             "reason": self.reason, "request": False}
        e.update(self.expect.get(validator, {}))
        return e


@dataclass
class Result:
    verdict: str            # "accept" or "reject"
    path: Optional[str]     # the field path, None when none was given
    message: str            # the whole message ("" when accepted)
    request: bool = False   # the collector refused the whole request


@dataclass
class CaseFile:
    name: str
    description: str
    fields: dict
    objects: dict
    cases: list


_RAW_ESCAPE = re.compile(rb"\\(\\|x([0-9a-fA-F]{2}))")


def raw_bytes(raw: str) -> bytes:
    """raw text -> bytes: UTF-8, with \\xHH as the byte HH (README.md)."""
    def sub(m):
        return bytes([int(m.group(2), 16)]) if m.group(2) else b"\\\\"
    return _RAW_ESCAPE.sub(sub, raw.encode("utf-8"))


def _label(c) -> str:
    """A case without a name is labelled by its value."""
    text = c["raw"] if "raw" in c else json.dumps(c["value"],
                                                  ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def load(path: Path) -> CaseFile:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    stem = path.stem
    extra = set(doc) - _FILE_KEYS
    assert not extra, f"{path}: unknown keys {sorted(extra)}"
    cases = []
    for i, c in enumerate(doc["cases"]):
        where = f"{path.name} case {i}"
        extra = set(c) - _CASE_KEYS
        assert not extra, f"{where}: unknown keys {sorted(extra)}"
        assert ("value" in c) != ("raw" in c), \
            f"{where}: give exactly one of value and raw"
        assert c["verdict"] in ("accept", "reject"), where
        if c["verdict"] == "reject":
            assert c.get("path"), f"{where}: a rejection needs a path"
            assert c.get("reason") in REASONS, \
                f"{where}: reason {c.get('reason')!r} not in reasons.json"
        for v, over in c.get("expect", {}).items():
            assert v in VALIDATORS, f"{where}: expect for unknown {v}"
            assert c.get("note"), f"{where}: an expect entry needs a note"
            if over.get("reason"):
                assert over["reason"] in REASONS, where
        for v in c.get("not_for", {}):
            assert v in VALIDATORS, f"{where}: not_for unknown {v}"
        cases.append(Case(
            file=stem, index=i, name=c.get("name") or _label(c),
            verdict=c["verdict"], path=c.get("path"),
            reason=c.get("reason"), value=c.get("value"), raw=c.get("raw"),
            note=c.get("note", ""), expect=c.get("expect", {}),
            not_for=c.get("not_for", {})))
    return CaseFile(stem, doc.get("description", ""), doc["fields"],
                    doc.get("objects", {}), cases)


def load_all() -> list:
    return [load(p) for p in sorted(CASES_DIR.glob("*.json"))]


def registry_doc(cf: CaseFile) -> dict:
    return {
        "owners": {"validation": {"contact": "validation@example.com"}},
        "sources": {SOURCE: {"owner": "validation"}},
        "environments": {ENVIRONMENT: {"events": [EVENT_NAME]}},
        "objects": cf.objects,
        "events": {EVENT_NAME: {
            "id": EVENT_ID, "owner": "validation",
            "description": cf.description or "A validation case.",
            "versions": [{"version": 0, "fields": cf.fields}]}},
    }


def write_registry(cf: CaseFile, folder: Path) -> Path:
    """Writes the file's registry (JSON is YAML) and publishes it."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = registry_doc(cf)
    if not doc["objects"]:
        del doc["objects"]
    (folder / "registry.yaml").write_text(json.dumps(doc, indent=1) + "\n")
    proc = subprocess.run([REESTR, "publish", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, \
        f"{cf.name}: reestr publish failed: {proc.stderr}"
    return folder
