"""The reestr langpack runtime for Python: the event base class, the
canonical encoding and the sender. Shipped inside every generated Python
langpack; standard library only."""

from __future__ import annotations

from .encode import (
    code_points,
    encode_bool,
    encode_event,
    encode_float,
    encode_int,
    encode_string,
    encode_time,
)
from .errors import ValidationError
from .event import Event
from .sender import DELIVERED, DROPPED, REJECTED, Result, Sender, Stats
from .uuid7 import uuid7

__all__ = [
    "DELIVERED",
    "DROPPED",
    "REJECTED",
    "Event",
    "Result",
    "Sender",
    "Stats",
    "ValidationError",
    "code_points",
    "encode_bool",
    "encode_event",
    "encode_float",
    "encode_int",
    "encode_string",
    "encode_time",
    "uuid7",
]
