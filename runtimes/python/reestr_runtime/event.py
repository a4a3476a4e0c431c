"""The base of every generated event."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from .encode import encode_time
from .uuid7 import uuid7


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

    def __init__(self) -> None:
        self._event_time = datetime.now(timezone.utc)
        # the time's wire text, made when the time is set: send is hotter
        self._event_time_json = encode_time(self._event_time)
        self._event_uuid = uuid7()

    @property
    def event_uuid(self) -> str:
        """The event's UUID, lowercase."""
        return self._event_uuid

    @event_uuid.setter
    def event_uuid(self, value: str) -> None:
        self._event_uuid = value.lower()

    @property
    def event_time(self) -> datetime:
        """When the event happened (an aware datetime)."""
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
