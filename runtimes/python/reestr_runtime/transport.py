"""One POST of a batch to the collector, over a kept-alive connection."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit


class Transport:
    """Posts bodies to one URL; reconnects after any failure. Not
    thread-safe: the sender's one delivery thread owns it."""

    def __init__(self, url: str, timeout: float,
                 key: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"collector URL must be http(s)://host…: {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path.rstrip("/") or "") + "/v1/events"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = "Bearer " + key

    def __repr__(self) -> str:  # never the key
        return f"<Transport {self._host}:{self._port}{self._path}>"

    def post(self, body: bytes, events: int = 0) -> tuple[int, str, bytes]:
        """Returns (status, Retry-After header or "", body); raises OSError
        or http.client.HTTPException when no answer came."""
        if self._conn is None:
            cls = (http.client.HTTPSConnection if self._https
                   else http.client.HTTPConnection)
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        try:
            self._conn.request("POST", self._path, body=body,
                               headers=self._headers)
            resp = self._conn.getresponse()
            data = resp.read()
            retry_after = resp.getheader("Retry-After") or ""
            if resp.will_close:
                self.close()
            return resp.status, retry_after, data
        except (OSError, http.client.HTTPException, socket.timeout):
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class AgentTransport:
    """Hands batches to the local agent (`reestr agent`) over its Unix
    socket: the batch as one line, answered one line per event, "ok" once
    the event is on the agent's disk. Answers are given back as the
    collector would give them, so the sender treats both alike."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._unread = b""

    def post(self, body: bytes, events: int = 0) -> tuple[int, str, bytes]:
        """Returns (200, "", results) once every event is answered; raises
        OSError when the agent is unreachable or refused the events (its
        spool is full): the sender retries."""
        try:
            if self._sock is None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(self._timeout)
                s.connect(self._path)
                self._sock = s
            self._sock.sendall(body + b"\n")
            while self._unread.count(b"\n") < events:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("the agent hung up")
                self._unread += chunk
        except OSError:
            self.close()
            raise
        lines = self._unread.split(b"\n")
        answers, rest = lines[:events], lines[events:]
        self._unread = b"\n".join(rest)
        results = []
        for a in answers:
            text = a.decode("utf-8", "replace")
            if text == "ok":
                results.append({"status": "accepted"})
            elif text.startswith("error spool"):
                raise OSError(f"agent: {text[6:]}")
            else:
                results.append({"status": "rejected",
                                "error": f"agent: {text[6:]}"})
        return 200, "", json.dumps({"results": results}).encode()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._unread = b""
