"""The base of every generated event."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import ClassVar

from .encode import encode_string, encode_time
from .uuid7 import uuid7

# The wire text of the current second, with the second it is for: the events
# of a busy process mostly share their second, and formatting a datetime was
# a third of the cost of making an event. One tuple, so that threads see a
# second and its text together.
_second: tuple[int, str] = (-1, "")


def _time_json(us: int) -> str:
    """Microseconds since the epoch as encode_time writes them."""
    global _second
    sec, frac = divmod(us, 1_000_000)
    at, text = _second
    if at != sec:
        text = time.strftime('"%Y-%m-%dT%H:%M:%S.', time.gmtime(sec))
        _second = (sec, text)
    return f'{text}{frac:06d}Z"'


class Event:
    """One event: its registry id, version and name (class constants set by
    the generated subclass), a time and a client-made UUID.

    The time is when the object was made and the UUID a fresh UUIDv7; both
    can be overridden (a backfill keeps the original time). One object is
    one event: sending it twice sends the same UUID, stored once.
    """

    EVENT_ID: ClassVar[int]
    EVENT_VERSION: ClassVar[int]
    EVENT_NAME: ClassVar[str]
    # The wire text that starts every event of the class, made once per
    # class: send is the hot path, and these never change.
    _ENVELOPE_HEAD: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "EVENT_ID" in cls.__dict__ or "EVENT_VERSION" in cls.__dict__:
            cls._ENVELOPE_HEAD = (f'{{"event_id":{cls.EVENT_ID},'
                                  f'"version":{cls.EVENT_VERSION},"uuid":')

    def __init__(self) -> None:
        # The time is kept as microseconds since the epoch and its wire
        # text; the datetime is made only when someone asks for it. The
        # time's and UUID's wire text are made when they are set: send is
        # hotter than either.
        self._event_time_us = time.time_ns() // 1000
        self._event_time: datetime | None = None
        self._event_time_json = _time_json(self._event_time_us)
        self._event_uuid = uuid7()
        self._event_uuid_json = '"' + self._event_uuid + '"'

    @property
    def event_uuid(self) -> str:
        """The event's UUID, lowercase."""
        return self._event_uuid

    @event_uuid.setter
    def event_uuid(self, value: str) -> None:
        self._event_uuid = value.lower()
        self._event_uuid_json = encode_string(self._event_uuid)

    @property
    def event_time(self) -> datetime:
        """When the event happened (an aware datetime)."""
        if self._event_time is None:
            sec, us = divmod(self._event_time_us, 1_000_000)
            self._event_time = datetime.fromtimestamp(
                sec, timezone.utc).replace(microsecond=us)
        return self._event_time

    @event_time.setter
    def event_time(self, value: datetime) -> None:
        if value.utcoffset() is None:
            raise ValueError("event_time needs a time zone")
        self._event_time = value
        self._event_time_json = encode_time(value)

    def validate(self) -> None:
        """Raise ValidationError for the first field that is missing or
        breaks a constraint (generated per event)."""
        raise NotImplementedError

    def _encode_fields(self, out: list[str]) -> None:
        """Append the fields object as canonical JSON (generated)."""
        raise NotImplementedError
