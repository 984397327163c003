"""The one way a domain refuses a command: ``RuleViolated`` names the field the caller should
change, so the HTTP layer answers problem+json pointing at it."""

from __future__ import annotations


class RuleViolated(Exception):
    """A command broke a business rule; ``field`` names what the caller should change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
