"""Hand-written events in the shape `reestr gen` emits, for the tests."""

from __future__ import annotations

from reestr_runtime import (Event, ValidationError, encode_float,
                            encode_int, encode_string)


class Clickstream(Event):
    """Mirrors clickstream_event v0 of examples/registry."""

    EVENT_ID = 100
    EVENT_VERSION = 0
    EVENT_NAME = "clickstream_event"

    def __init__(self, user_id=None, email=None, lat=None, lon=None,
                 user_agent=None):
        super().__init__()
        self.user_id, self.email = user_id, email
        self.lat, self.lon, self.user_agent = lat, lon, user_agent

    def validate(self) -> None:
        if self.user_agent is None:
            raise ValidationError(self.EVENT_NAME, 0, "fields.user_agent",
                                  "missing required field")

    def _encode_fields(self, out: list[str]) -> None:
        out.append('{"user":{"id":' + encode_int(self.user_id))
        if self.email is not None:
            out.append(',"email":' + encode_string(self.email))
        out.append('},"geo":{"latitude":' + encode_float(self.lat) +
                   ',"longitude":' + encode_float(self.lon) + "}")
        out.append(',"user_agent":' + encode_string(self.user_agent) + "}")


class Numbered(Event):
    EVENT_ID = 1
    EVENT_VERSION = 0
    EVENT_NAME = "conformance_event"

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def validate(self) -> None:
        pass

    def _encode_fields(self, out: list[str]) -> None:
        out.append('{"n":%d}' % self.n)
