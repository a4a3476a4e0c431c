"""The error a generated event raises when it cannot be sent as it is."""

from __future__ import annotations


class ValidationError(ValueError):
    """A field is missing or breaks a constraint of the registry.

    The message names the event, its version and the field, as the collector
    would: ``clickstream_event v0: fields.user.email: 300 characters, more
    than max_length 254``.
    """

    def __init__(self, event: str, version: int, field: str,
                 message: str) -> None:
        super().__init__(f"{event} v{version}: {field}: {message}")
        self.event = event
        self.version = version
        self.field = field
        self.message = message
