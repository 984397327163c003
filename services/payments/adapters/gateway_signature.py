"""Signed gateway notifications: how a card or bank gateway proves a notification is its own.

The gateway signs ``<timestamp>.<raw body>`` with HMAC-SHA256 under the secret it shares with us
and sends ``Payment-Signature: t=<unix seconds>,v1=<hex digest>`` (several ``v1`` while it rotates
secrets). A notification is taken only when a signature matches, compared in constant time, and
its timestamp is within the tolerance of our clock: a captured notification replayed later is
refused, and one replayed within the tolerance is recognised by its id (application/gateways.py)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "Payment-Signature"


class SignatureRefused(Exception):
    """The notification is not provably the gateway's, or is too old to take."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a gateway sends (for our tests and for the reference gateway client)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(header: str | None, body: bytes, secrets: list[str], now: datetime, tolerance_seconds: float) -> int:
    """The notification's timestamp when ``header`` signs ``body`` under one of ``secrets`` and is
    recent enough; SignatureRefused saying why otherwise."""
    if not header:
        raise SignatureRefused(f"no {SIGNATURE_HEADER} header")
    if not secrets:
        raise SignatureRefused("no secret is configured for this gateway")
    timestamp: int | None = None
    signatures = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureRefused("the signature's timestamp is not a number") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureRefused("the signature has no timestamp or no v1 digest")
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise SignatureRefused("no signature matches")
    age = now.timestamp() - timestamp
    if abs(age) > tolerance_seconds:
        raise SignatureRefused(f"the notification was signed {age:.0f} s from now, beyond {tolerance_seconds:.0f} s")
    return timestamp
