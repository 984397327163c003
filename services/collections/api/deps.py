"""The dependencies collections' routers declare once: who may read, write and operate, which
agency is calling, the pool and the use cases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from services.collections.application.dunning import Collections
from services.collections.domain.policy import Agency, Policies
from shared.clock import Clock
from shared.http.auth import CurrentPrincipal, Principal, require_scopes
from shared.http.idempotency import IdempotencyKey
from shared.http.problems import Problem
from shared.http.writes import Write, pool_of, write_dependencies

Reader = Annotated[Principal, Depends(require_scopes("collections:read"))]
Operator = Annotated[Principal, Depends(require_scopes("collections:operate"))]
Creation, Change = write_dependencies("collections:write")
PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]
AGENCY_SCOPE = "agency:"


def collections_of(request: Request) -> Collections:
    return request.app.state.collections


def clock_of(request: Request) -> Clock:
    return request.app.state.clock


def policies_of(request: Request) -> Policies:
    return request.app.state.collections.policies


def calling_agency(request: Request, principal: CurrentPrincipal) -> Agency:
    """The agency whose token this is: it holds exactly one ``agency:<id>`` scope of a known agency."""
    ids = [scope.removeprefix(AGENCY_SCOPE) for scope in principal.scopes if scope.startswith(AGENCY_SCOPE)]
    agency = policies_of(request).agency(ids[0]) if len(ids) == 1 else None
    if agency is None:
        raise Problem(403, detail=f"the token of {principal.system!r} does not belong to one known agency",
                      slug="not-an-agency", missing_scopes=["agency:<agency id>"])
    return agency


def agency_write(
    request: Request, pool: PoolDep, principal: CurrentPrincipal, key: IdempotencyKey,
) -> Write:
    """A write by an agency: its own token (no collections scope), under its Idempotency-Key."""
    calling_agency(request, principal)
    return Write(request, pool, principal, key)


AgencyWrite = Annotated[Write, Depends(agency_write)]
CollectionsDep = Annotated[Collections, Depends(collections_of)]
ClockDep = Annotated[Clock, Depends(clock_of)]
PoliciesDep = Annotated[Policies, Depends(policies_of)]
CallingAgency = Annotated[Agency, Depends(calling_agency)]
