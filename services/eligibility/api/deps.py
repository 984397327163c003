"""The dependencies eligibility's routers declare once: who may read and write, the pool, and the
use cases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from services.eligibility.application.estimating import Estimating
from services.eligibility.application.handlers import Verifications
from shared.http.auth import Principal, require_scopes
from shared.http.writes import pool_of, write_dependencies

Reader = Annotated[Principal, Depends(require_scopes("eligibility:read"))]
Creation, Change = write_dependencies("eligibility:write")
PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]


def verifications_of(request: Request) -> Verifications:
    return request.app.state.verifications


def estimating_of(request: Request) -> Estimating:
    return request.app.state.estimating


VerificationsDep = Annotated[Verifications, Depends(verifications_of)]
EstimatingDep = Annotated[Estimating, Depends(estimating_of)]
