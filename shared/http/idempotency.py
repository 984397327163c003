"""Safe retries of POSTs that create something, keyed by the ``Idempotency-Key`` header.

A calling system that timed out cannot know whether its request took effect; it retries with the
same key and gets the first answer back instead of a second customer or invoice. The stored
response is written in the same transaction as the events it caused (table ``idempotency_keys``,
shared/migrations/002_idempotency.sql), so there is never an effect without its answer or an
answer without its effect.

A router uses it like this::

    @router.post("/v1/customers", status_code=201)
    async def register(
        command: RegisterCustomer, request: Request, principal: CanRegister, key: IdempotencyKey
    ) -> JSONResponse:
        async def register_customer(conn: asyncpg.Connection) -> IdempotentResult:
            customer_id = await handlers.register_customer(conn, command)
            return IdempotentResult(201, {"customer_id": customer_id},
                                    {"Location": f"/v1/customers/{customer_id}"})

        outcome = await run_idempotently(
            pool, principal=principal.system, key=key,
            request_fingerprint=request_fingerprint(
                "POST", request.url.path, command.model_dump(mode="json")
            ),
            operation=register_customer,
        )
        return outcome.to_response()
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header
from fastapi.responses import JSONResponse

from shared.http.problems import FieldError, Problem

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

# 1..255 printable ASCII characters: what an HTTP header carries safely, and what fits the index
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True)
class IdempotentResult:
    """The response an operation produced: what is stored and replayed for a repeated key.

    ``body`` must be JSON-able as is (use ``model_dump(mode="json")``): it is stored as jsonb."""

    status_code: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IdempotentOutcome:
    """The response to send, and whether it is a replay of an earlier request."""

    result: IdempotentResult
    replayed: bool

    def to_response(self) -> JSONResponse:
        """The HTTP response; a replay carries ``Idempotent-Replayed: true``."""
        headers = dict(self.result.headers)
        if self.replayed:
            headers[REPLAYED_HEADER] = "true"
        return JSONResponse(self.result.body, status_code=self.result.status_code, headers=headers)


Operation = Callable[[asyncpg.Connection], Awaitable[IdempotentResult]]


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 of the method, the path and the body as canonical JSON (sorted keys, no spaces),
    so the same request spelled with other whitespace or key order is still the same request."""
    canonical_body = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical_body}".encode()).hexdigest()


def _invalid_key(detail: str) -> Problem:
    return Problem(
        400,
        detail=detail,
        slug="invalid-idempotency-key",
        errors=[FieldError(field=IDEMPOTENCY_HEADER, message=detail)],
    )


def validate_idempotency_key(key: str | None) -> str | None:
    """The key unchanged if it is well formed (1..255 printable ASCII characters), else a 400."""
    if key is not None and not _VALID_KEY.fullmatch(key):
        raise _invalid_key("Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return key


async def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            description="A unique key per logical request (e.g. a UUID); retries with the same key "
            "and body get the first response back instead of repeating the effect.",
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key header, validated."""
    return validate_idempotency_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key_header)]


class _LostRace(Exception):
    """Raised inside the transaction to roll it back when a concurrent request stored the key."""


async def run_idempotently(
    pool: asyncpg.Pool,
    *,
    principal: str,
    key: str | None,
    request_fingerprint: str,
    operation: Operation,
) -> IdempotentOutcome:
    """Run ``operation`` in a transaction at most once per (principal, key).

    Without a key the operation simply runs in a transaction. With one, a stored response for the
    same request is replayed; a stored response for a different request is a 422. Otherwise the
    operation runs first (its event append must be the transaction's first write) and the key row
    is inserted after it, in the same transaction. If a concurrent request with the same key
    committed first, this transaction is rolled back and the winner's response replayed; the same
    happens when the operation fails because it tripped over the winner's effect (say, a unique
    constraint). Only 2xx results are stored; a Problem from the operation stores nothing."""
    if key is None:
        async with pool.acquire() as conn, conn.transaction():
            return IdempotentOutcome(await operation(conn), replayed=False)

    validate_idempotency_key(key)
    async with pool.acquire() as conn:
        stored = await _stored_response(conn, principal, key, request_fingerprint)
        if stored is not None:
            return stored
        try:
            async with conn.transaction():
                result = await operation(conn)
                if 200 <= result.status_code < 300:
                    if not await _store_response(conn, principal, key, request_fingerprint, result):
                        raise _LostRace()
            return IdempotentOutcome(result, replayed=False)
        except _LostRace:
            pass
        except Exception:
            # A concurrent twin may have committed while we ran; its answer is the right one.
            try:
                stored = await _stored_response(conn, principal, key, request_fingerprint)
            except Problem:
                raise
            except Exception:
                stored = None  # the connection itself broke; the original error says more
            if stored is None:
                raise
            return stored

        stored = await _stored_response(conn, principal, key, request_fingerprint)
    if stored is None:  # the winner's row was purged between its commit and our look
        raise Problem(409, detail="A concurrent request with this Idempotency-Key is in doubt.")
    return stored


async def _stored_response(
    conn: asyncpg.Connection, principal: str, key: str, fingerprint: str
) -> IdempotentOutcome | None:
    row = await conn.fetchrow(
        """SELECT request_hash, status_code, response_body, response_headers
             FROM idempotency_keys
            WHERE principal = $1 AND idempotency_key = $2""",
        principal,
        key,
    )
    if row is None:
        return None
    if row["request_hash"] != fingerprint:
        message = "Idempotency-Key reused with a different request"
        raise Problem(
            422,
            title=message,
            detail="This key was first used for another method, path or body; use a new key "
            "for a new request.",
            slug="idempotency-key-reused",
            errors=[FieldError(field=IDEMPOTENCY_HEADER, message=message)],
        )
    result = IdempotentResult(
        status_code=row["status_code"],
        body=_from_jsonb(row["response_body"]),
        headers=_from_jsonb(row["response_headers"]),
    )
    return IdempotentOutcome(result, replayed=True)


async def _store_response(
    conn: asyncpg.Connection, principal: str, key: str, fingerprint: str, result: IdempotentResult
) -> bool:
    """Insert the key row; False when another transaction already holds this key. The insert
    waits for a concurrent uncommitted twin to finish, so False means the twin committed."""
    inserted = await conn.fetchval(
        """INSERT INTO idempotency_keys
               (principal, idempotency_key, request_hash,
                status_code, response_body, response_headers)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
           ON CONFLICT (principal, idempotency_key) DO NOTHING
           RETURNING true""",
        principal,
        key,
        fingerprint,
        result.status_code,
        json.dumps(result.body),
        json.dumps(dict(result.headers)),
    )
    return bool(inserted)


def _from_jsonb(value: Any) -> Any:
    # asyncpg hands jsonb over as text unless a codec was installed on the connection
    return json.loads(value) if isinstance(value, str) else value


async def purge_idempotency_keys(pool: asyncpg.Pool, *, older_than: timedelta) -> int:
    """Delete keys stored more than ``older_than`` ago; returns how many were deleted.

    Keys only need to outlive a caller's retry window (Stripe keeps them 24 hours). Nothing
    schedules this: run it from an operator job, e.g. daily with ``older_than=timedelta(hours=24)``.
    A retry arriving after its key was purged runs again as a new request."""
    status = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", older_than
    )
    return int(status.split()[-1])
