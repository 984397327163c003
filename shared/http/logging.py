"""JSON logs on stdout, and the correlation id that ties a request's log lines and events together.

One JSON object per line, so log shippers need no parsing rules:

    {"ts": "2025-01-31T09:12:03.417Z", "level": "INFO", "logger": "http.access",
     "message": "POST /v1/customers 201", "service": "registration",
     "correlation_id": "6f1c...", "method": "POST", "path": "/v1/customers", "status": 201,
     "duration_ms": 12.4}
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.correlation import (
    bind,
    current_causation_id,
    current_correlation_id,
    new_correlation_id,
    unbind,
)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_HEADER_KEY = CORRELATION_HEADER.lower().encode()
# accept a caller's id only if it is short and harmless to echo into logs and headers
_ACCEPTABLE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_logger = logging.getLogger("http.access")

# attributes every LogRecord has; anything else on a record came in through ``extra=``
_STANDARD_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON object with the service and the current correlation id."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ).replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service_name,
            "correlation_id": current_correlation_id(),
        }
        causation_id = current_causation_id()
        if causation_id is not None:
            line["causation_id"] = causation_id
        for name, value in vars(record).items():
            if name not in _STANDARD_RECORD_ATTRIBUTES and name not in line:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Send every log record of the process to stdout as JSON, at ``level`` and above.

    Call it once from a service's entry point (not at import). Uvicorn's own access log is silenced
    because ``CorrelationMiddleware`` writes one with the correlation id."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers[:] = []
    uvicorn_access.propagate = False


def _correlation_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _CORRELATION_HEADER_KEY:
            candidate = value.decode("latin-1")
            if _ACCEPTABLE_CORRELATION_ID.fullmatch(candidate):
                return candidate
            break
    return new_correlation_id()


class CorrelationMiddleware:
    """Binds the request's correlation id for everything the request does, and logs it.

    The id comes from the caller's ``X-Correlation-ID`` (so a chain of systems shares one) or is
    made up here; it is echoed in the response header and, through ``shared.correlation``, stamped
    on log lines and on the events the request causes. One access line is logged per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _correlation_id_from(scope)
        tokens = bind(correlation_id)
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering

        async def send_with_correlation_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _CORRELATION_HEADER_KEY
                ]
                headers.append((_CORRELATION_HEADER_KEY, correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_correlation_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method, path = scope["method"], scope["path"]
            access_logger.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={
                    "method": method, "path": path, "status": status, "duration_ms": duration_ms
                },
            )
            unbind(tokens)
