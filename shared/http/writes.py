"""How every service runs a write request: under the Idempotency-Key guard, optionally pinned to
the version the caller read (``If-Match``), and re-decided on fresh state when it lost a race and
was not pinned.

A router declares its two dependency aliases once, with the scope that may write::

    Creation, Change = write_dependencies("registration:write")

and each write route runs one operation: ``await write.run(command, operation)``.
"""

# No `from __future__ import annotations`: FastAPI must see the dependency aliases built inside
# write_dependencies as objects, not as names it cannot resolve from this module's globals.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.eventstore import retry_on_conflict
from shared.http.auth import Principal, require_scopes
from shared.http.idempotency import (
    IdempotencyKey,
    IdempotentResult,
    request_fingerprint,
    run_idempotently,
)
from shared.http.problems import FieldError, Problem

Operation = Callable[[asyncpg.Connection], Awaitable[IdempotentResult]]


def expected_version(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description='The version the change is based on, e.g. "3"'),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise Problem(
            400, detail='If-Match must be a version such as "3"', slug="invalid-if-match",
            errors=[FieldError(field="If-Match", message="not a version")],
        ) from None


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


@dataclass
class Write:
    """One write request: who asks, under which Idempotency-Key, based on which version."""

    request: Request
    pool: asyncpg.Pool
    principal: Principal
    key: str | None
    expected: int | None = None

    async def run(self, body: BaseModel, operation: Operation) -> JSONResponse:
        async def once() -> JSONResponse:
            outcome = await run_idempotently(
                self.pool, principal=self.principal.system, key=self.key,
                request_fingerprint=request_fingerprint(
                    self.request.method, self.request.url.path, body.model_dump(mode="json")
                ),
                operation=operation,
            )
            return outcome.to_response()

        if self.expected is not None:
            return await once()  # a pinned version is never re-decided: the caller gets 412
        return await retry_on_conflict(once)


def pool_of(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def write_dependencies(scope: str) -> tuple[Any, Any]:
    """The ``Creation`` and ``Change`` dependency aliases of a router whose writes need ``scope``;
    a change honours ``If-Match``."""
    Writer = Annotated[Principal, Depends(require_scopes(scope))]
    Pool = Annotated[asyncpg.Pool, Depends(pool_of)]

    def creation(request: Request, pool: Pool, principal: Writer, key: IdempotencyKey) -> Write:
        return Write(request, pool, principal, key)

    def change(
        request: Request, pool: Pool, principal: Writer, key: IdempotencyKey,
        expected: Annotated[int | None, Depends(expected_version)],
    ) -> Write:
        return Write(request, pool, principal, key, expected)

    return Annotated[Write, Depends(creation)], Annotated[Write, Depends(change)]
