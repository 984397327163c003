"""The dependencies invoicing's routers declare once: who may read and write, the pool, and the
use cases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from services.invoicing.application.billing import Billing
from services.invoicing.application.documents import Letterhead
from shared.http.auth import Principal, require_scopes
from shared.http.writes import pool_of, write_dependencies

Reader = Annotated[Principal, Depends(require_scopes("invoicing:read"))]
Operator = Annotated[Principal, Depends(require_scopes("invoicing:operate"))]
Creation, Change = write_dependencies("invoicing:write")
PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]


def billing_of(request: Request) -> Billing:
    return request.app.state.billing


def letterhead_of(request: Request) -> Letterhead:
    return request.app.state.letterhead


BillingDep = Annotated[Billing, Depends(billing_of)]
LetterheadDep = Annotated[Letterhead, Depends(letterhead_of)]
