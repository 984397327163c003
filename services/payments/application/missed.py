"""The missed-payment scheduler: for a business date (the injected clock's today, or one an
operator names), find invoices past due and plan instalments not paid in time, and publish
PaymentMissed for each due item once.

Each due item is decided in its own transaction on its own stream (the invoice's due stream, the
plan's stream), so "once" holds however often the scheduler runs, restarts halfway or runs in two
processes at the same time: a second decision finds the first one's event, or loses the append
race and is dropped."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.payments.application.ledger import INVOICE_BALANCES, Repositories, open_invoice
from services.payments.domain.events import (
    PaymentMissed,
    PaymentPlanCompleted,
    PaymentPlanDefaulted,
)
from services.payments.domain.payment import OpenInvoice
from shared.clock import Clock
from shared.eventstore import ConcurrencyConflict

log = logging.getLogger(__name__)


@dataclass
class MissedRun:
    as_of: date
    invoices_missed: int = 0
    instalments_missed: int = 0
    plans_defaulted: int = 0
    plans_completed: int = 0


class MissedPaymentScheduler:
    def __init__(self, pool: asyncpg.Pool, repos: Repositories, clock: Clock, invoice_grace_days: int) -> None:
        self.pool = pool
        self.repos = repos
        self.clock = clock
        self.invoice_grace_days = invoice_grace_days

    async def run(self, as_of: date | None = None) -> MissedRun:
        run = MissedRun(as_of or self.clock.today())
        # plans first: an instalment missed may default the plan, and its invoices are then owed
        # as they stand (and looked at below)
        for row in await self.pool.fetch("SELECT plan_id FROM plans WHERE status = 'active' ORDER BY plan_id"):
            await self._plan(row["plan_id"], run)
        # the candidates first (fell due before the grace ran out, never reported), then their
        # balances: computing every invoice's balance before filtering grew with the square
        rows = await self.pool.fetch(
            f"""WITH candidates AS MATERIALIZED (
                    SELECT c.invoice_id FROM invoices c
                    WHERE c.due_date < $2::date - $1::int AND NOT c.voided
                      AND NOT EXISTS (SELECT 1 FROM missed_payments m WHERE m.due_item = 'invoice:' || c.invoice_id))
                SELECT * FROM ({INVOICE_BALANCES} WHERE i.invoice_id IN (SELECT invoice_id FROM candidates)) b
                WHERE owed - paid > 0 AND plan_id IS NULL
                ORDER BY due_date, invoice_id""",
            self.invoice_grace_days, run.as_of,
        )
        for row in rows:
            await self._invoice(open_invoice(row), run)
        return run

    async def _plan(self, plan_id: str, run: MissedRun) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                plan = await self.repos.plans.get(plan_id, connection=conn)
                balance = await conn.fetchval(
                    f"SELECT COALESCE(sum(owed - paid), 0) FROM ({INVOICE_BALANCES} WHERE i.invoice_id = ANY($1::text[])) b",
                    plan.terms.invoice_ids,
                )
                now = self.clock.now()
                events = plan.complete_if_cleared(balance, now) or plan.look_for_missed(run.as_of, now)
                await self.repos.plans.save(plan_id, plan, events, subject=plan.terms.customer_id, connection=conn)
        except ConcurrencyConflict:
            log.info("plan %s changed while it was looked at; the next run looks again", plan_id)
            return
        run.plans_completed += sum(isinstance(e, PaymentPlanCompleted) for e in events)
        run.instalments_missed += sum(isinstance(e, PaymentMissed) for e in events)
        run.plans_defaulted += sum(isinstance(e, PaymentPlanDefaulted) for e in events)

    async def _invoice(self, invoice: OpenInvoice, run: MissedRun) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                due = await self.repos.dues.get_or_new(invoice.invoice_id, connection=conn)
                events = due.look_for_missed(invoice, run.as_of, self.invoice_grace_days, self.clock.now())
                await self.repos.dues.save(
                    invoice.invoice_id, due, events, subject=invoice.customer_id, connection=conn,
                )
        except ConcurrencyConflict:
            return  # another run published it
        run.invoices_missed += len(events)
