"""The correlation id of the work in progress: set by the HTTP middleware or by the consumer, read
by the logger and stamped on every event the work causes."""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def current_causation_id() -> str | None:
    return _causation_id.get()


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def bind(correlation_id: str | None, causation_id: str | None = None) -> tuple[Token, Token]:
    """Bind ids for the current task; pass the returned tokens to ``unbind`` when done."""
    return _correlation_id.set(correlation_id), _causation_id.set(causation_id)


def unbind(tokens: tuple[Token, Token]) -> None:
    _correlation_id.reset(tokens[0])
    _causation_id.reset(tokens[1])
