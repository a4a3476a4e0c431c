"""One POST of a batch to the collector, over a kept-alive connection."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit


class Transport:
    """Posts bodies to one URL; reconnects after any failure. Not
    thread-safe: the sender's one delivery thread owns it."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"collector URL must be http(s)://host…: {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path.rstrip("/") or "") + "/v1/events"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, str, bytes]:
        """Returns (status, Retry-After header or "", body); raises OSError
        or http.client.HTTPException when no answer came."""
        if self._conn is None:
            cls = (http.client.HTTPSConnection if self._https
                   else http.client.HTTPConnection)
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        try:
            self._conn.request("POST", self._path, body=body, headers={
                "Content-Type": "application/json"})
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
