"""The langpack runners' common first step: a case's wire bytes read as
JSON into a tagged tree that every harness (Go, Python, PHP) walks with its
own language's conversions.

Why not each language's JSON reader: Go's encoding/json and PHP's
json_decode replace or refuse invalid UTF-8 and lone surrogates before any
generated check could see them, and keep only one member of a repeated
name. The tree keeps what the bytes say, so each language receives the
closest value it can hold (README.md, "What raw may hold"):

    {"t": "null"} | {"t": "bool", "v": true}
    {"t": "num", "s": "1.0"}          the literal; NaN, Infinity, -Infinity too
    {"t": "str", "b": BASE64}         the bytes: raw bytes as sent, \\u escapes
                                      as UTF-8 (a lone surrogate as the
                                      3 bytes ED A0 80 ...)
    {"t": "arr", "v": [TREE...]}
    {"t": "obj", "m": [[KEY, TREE]...]}   members in order, repeats kept
"""

import base64
import re

_NUM = re.compile(rb"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SPECIAL = (b"NaN", b"Infinity", b"-Infinity")
_ESC = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
        ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}


class WireError(ValueError):
    pass


def _wtf8(cp: int) -> bytes:
    """A code point as UTF-8, surrogates included (WTF-8)."""
    if cp < 0x80:
        return bytes([cp])
    if cp < 0x800:
        return bytes([0xC0 | cp >> 6, 0x80 | cp & 0x3F])
    if cp < 0x10000:
        return bytes([0xE0 | cp >> 12, 0x80 | cp >> 6 & 0x3F,
                      0x80 | cp & 0x3F])
    return bytes([0xF0 | cp >> 18, 0x80 | cp >> 12 & 0x3F,
                  0x80 | cp >> 6 & 0x3F, 0x80 | cp & 0x3F])


class _Parser:
    def __init__(self, data: bytes):
        self.d = data
        self.i = 0

    def ws(self):
        while self.i < len(self.d) and self.d[self.i] in b" \t\r\n":
            self.i += 1

    def value(self):
        self.ws()
        d, i = self.d, self.i
        if i >= len(d):
            raise WireError("unexpected end")
        c = d[i:i + 1]
        if c == b"{":
            self.i += 1
            members = []
            self.ws()
            if d[self.i:self.i + 1] == b"}":
                self.i += 1
                return {"t": "obj", "m": members}
            while True:
                self.ws()
                if d[self.i:self.i + 1] != b'"':
                    raise WireError(f"expected a key at {self.i}")
                key = self.string().decode("utf-8", "replace")
                self.ws()
                if d[self.i:self.i + 1] != b":":
                    raise WireError(f"expected ':' at {self.i}")
                self.i += 1
                members.append([key, self.value()])
                self.ws()
                c = d[self.i:self.i + 1]
                self.i += 1
                if c == b"}":
                    return {"t": "obj", "m": members}
                if c != b",":
                    raise WireError(f"expected ',' or '}}' at {self.i - 1}")
        if c == b"[":
            self.i += 1
            items = []
            self.ws()
            if d[self.i:self.i + 1] == b"]":
                self.i += 1
                return {"t": "arr", "v": items}
            while True:
                items.append(self.value())
                self.ws()
                c = d[self.i:self.i + 1]
                self.i += 1
                if c == b"]":
                    return {"t": "arr", "v": items}
                if c != b",":
                    raise WireError(f"expected ',' or ']' at {self.i - 1}")
        if c == b'"':
            return {"t": "str",
                    "b": base64.b64encode(self.string()).decode()}
        for word, node in ((b"null", {"t": "null"}),
                           (b"true", {"t": "bool", "v": True}),
                           (b"false", {"t": "bool", "v": False})):
            if d.startswith(word, i):
                self.i += len(word)
                return node
        for word in _SPECIAL:
            if d.startswith(word, i):
                self.i += len(word)
                return {"t": "num", "s": word.decode()}
        m = _NUM.match(d, i)
        if not m:
            raise WireError(f"unexpected byte at {i}")
        self.i = m.end()
        return {"t": "num", "s": m.group().decode()}

    def string(self) -> bytes:
        d = self.d
        self.i += 1
        out = bytearray()
        while True:
            if self.i >= len(d):
                raise WireError("unterminated string")
            c = d[self.i]
            if c == 0x22:
                self.i += 1
                return bytes(out)
            if c == 0x5C:
                e = d[self.i + 1]
                if e == ord("u"):
                    cp = int(d[self.i + 2:self.i + 6], 16)
                    self.i += 6
                    pair = d[self.i:self.i + 2] == b"\\u"
                    if 0xD800 <= cp < 0xDC00 and pair:
                        lo = int(d[self.i + 2:self.i + 6], 16)
                        if 0xDC00 <= lo < 0xE000:
                            cp = 0x10000 + ((cp - 0xD800) << 10) + lo - 0xDC00
                            self.i += 6
                    out += _wtf8(cp)
                    continue
                if e not in _ESC:
                    raise WireError(f"bad escape at {self.i}")
                out += _ESC[e]
                self.i += 2
                continue
            out.append(c)
            self.i += 1


def parse(data: bytes) -> dict:
    p = _Parser(data)
    tree = p.value()
    p.ws()
    if p.i != len(data):
        raise WireError(f"trailing bytes at {p.i}")
    if tree["t"] != "obj":
        raise WireError("the fields are not an object")
    return tree
