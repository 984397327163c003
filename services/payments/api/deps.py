"""The dependencies payments' routers declare once: who may read and write, the pool, and the
use cases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from services.payments.application.gateways import Gateways
from services.payments.application.ledger import Ledger
from services.payments.application.missed import MissedPaymentScheduler
from services.payments.application.remittances import Remittances
from shared.clock import Clock
from shared.http.auth import Principal, require_scopes
from shared.http.writes import pool_of, write_dependencies

Reader = Annotated[Principal, Depends(require_scopes("payments:read"))]
Operator = Annotated[Principal, Depends(require_scopes("payments:operate"))]
Creation, Change = write_dependencies("payments:write")
PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]


def ledger_of(request: Request) -> Ledger:
    return request.app.state.ledger


def remittances_of(request: Request) -> Remittances:
    return request.app.state.remittances


def gateways_of(request: Request) -> Gateways:
    return request.app.state.gateways


def scheduler_of(request: Request) -> MissedPaymentScheduler:
    return request.app.state.scheduler


def clock_of(request: Request) -> Clock:
    return request.app.state.clock


LedgerDep = Annotated[Ledger, Depends(ledger_of)]
RemittancesDep = Annotated[Remittances, Depends(remittances_of)]
GatewaysDep = Annotated[Gateways, Depends(gateways_of)]
SchedulerDep = Annotated[MissedPaymentScheduler, Depends(scheduler_of)]
ClockDep = Annotated[Clock, Depends(clock_of)]
