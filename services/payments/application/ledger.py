"""Payments' use cases on the customer's account: take a payment (also one a collection agency
reports), allocate it (to named invoices or oldest first), refund credit, reverse a payment, give
back what an invoice no longer asks, and agree payment plans.

Each runs in the caller's transaction (an HTTP request, the feed consumer's inbox transaction, a
remittance posting), so a payment's events, the plan's and the balances they move commit or roll
back together. Allocation locks the invoices it reads (in invoice id order, so two allocations
never deadlock), so two payments never both pay the last cent of one invoice."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.payments.domain.dues import InvoiceDue
from services.payments.domain.events import (
    Allocation,
    AllocationReleased,
    AllocationRule,
    Frequency,
    Instalment,
    PartyKind,
    PayingParty,
    PaymentAllocated,
    PaymentChannel,
    PaymentInstructionsPublished,
    PaymentMethod,
    PaymentOption,
    PaymentReversed,
    ReversalReason,
)
from services.payments.domain.instructions import Instructions
from services.payments.domain.payment import OpenInvoice, Payment, oldest_first
from services.payments.domain.plan import PaymentPlan, schedule
from services.payments.domain.remittance import Remittance
from shared.clock import Clock
from shared.eventstore.repository import EventSourcedRepository, StreamNotFound
from shared.rules import RuleViolated

log = logging.getLogger(__name__)

# what an invoice asks before payments, and what payments allocated to it
INVOICE_BALANCES = """
    SELECT i.invoice_id, i.number, i.customer_id, i.billed_party, i.payer_id, i.payer_kind, i.currency,
           i.total, i.credited, i.written_off, i.transferred, i.voided, i.issue_date, i.due_date,
           CASE WHEN i.voided THEN 0 ELSE i.total - i.credited - i.written_off - i.transferred END AS owed,
           COALESCE((SELECT sum(a.amount) FROM allocations a WHERE a.invoice_id = i.invoice_id), 0)::bigint AS paid,
           (SELECT p.plan_id FROM plans p WHERE p.invoice_ids @> ARRAY[i.invoice_id] AND p.status = 'active'
            LIMIT 1) AS plan_id
    FROM invoices i"""


# the payments whose unused money is the account's credit ($1 customer, $2 currency): a payer's
# money beyond its invoices stays the payer's
ACCOUNT_CREDIT = """customer_id = $1 AND currency = $2 AND NOT reversed AND payer_id IS NULL
    AND amount - allocated - refunded > 0"""


class PaymentNotFound(StreamNotFound):
    pass


class PlanNotFound(StreamNotFound):
    pass


class InvoiceNotFound(LookupError):
    pass


@dataclass
class Repositories:
    payments: EventSourcedRepository[Payment]
    plans: EventSourcedRepository[PaymentPlan]
    dues: EventSourcedRepository[InvoiceDue]
    remittances: EventSourcedRepository[Remittance]
    instructions: EventSourcedRepository[Instructions]


@dataclass(frozen=True)
class PlanPolicy:
    minimum_instalment: int
    default_after_missed: int
    grace_days: int
    max_instalments: int


def open_invoice(row: asyncpg.Record) -> OpenInvoice:
    return OpenInvoice(
        invoice_id=row["invoice_id"], number=row["number"], customer_id=row["customer_id"],
        currency=row["currency"], balance=row["owed"] - row["paid"], due_date=row["due_date"],
        issue_date=row["issue_date"], billed_party=row["billed_party"], plan_id=row["plan_id"],
    )


async def invoices_locked(conn: asyncpg.Connection, invoice_ids: Sequence[str]) -> dict[str, OpenInvoice]:
    """The invoices as they stand, locked until the transaction ends."""
    await conn.execute(
        "SELECT 1 FROM invoices WHERE invoice_id = ANY($1::text[]) ORDER BY invoice_id FOR UPDATE",
        list(invoice_ids),
    )
    rows = await conn.fetch(f"{INVOICE_BALANCES} WHERE i.invoice_id = ANY($1::text[])", list(invoice_ids))
    return {row["invoice_id"]: open_invoice(row) for row in rows}


async def payable_invoices(
    conn: asyncpg.Connection, customer_id: str, currency: str, payer_id: str | None,
) -> dict[str, OpenInvoice]:
    """The customer's open invoices a party pays when it names none: a payer's invoices to that
    payer, anyone else's the customer's own."""
    # only the invoices still open are locked and read again, so a customer's paid history does
    # not make each payment slower
    ids = await conn.fetch(
        f"""SELECT invoice_id FROM ({INVOICE_BALANCES}
               WHERE i.customer_id = $1 AND i.currency = $2 AND NOT i.voided
                 AND (($3::text IS NULL AND i.billed_party = 'customer') OR i.payer_id = $3)) b
           WHERE owed > paid""",
        customer_id, currency, payer_id,
    )
    invoices = await invoices_locked(conn, [r["invoice_id"] for r in ids])
    return {k: v for k, v in invoices.items() if v.balance > 0}


class Ledger:
    def __init__(self, repos: Repositories, clock: Clock, plan_policy: PlanPolicy, apply_credit_to_new_invoices: bool) -> None:
        self.repos = repos
        self.clock = clock
        self.plan_policy = plan_policy
        self.apply_credit_to_new_invoices = apply_credit_to_new_invoices

    # -- payments --------------------------------------------------------------------------------

    async def receive(
        self, conn: asyncpg.Connection, payment_id: str, *, customer_id: str, party: PayingParty,
        method: PaymentMethod, channel: PaymentChannel, amount: int, fee: int, currency: str,
        reference: str | None, received_on: date | None, recorded_by: str,
        allocations: Sequence[Allocation] | None, allocate: bool = True, gateway: str | None = None,
        remittance_id: str | None = None,
    ) -> Payment:
        """Take a payment and pay invoices with it: those named, or else the oldest open ones
        (unless ``allocate`` is false); what is left stays on the account as credit."""
        payment = await self.repos.payments.get_or_new(payment_id, connection=conn)
        events = payment.receive(
            customer_id=customer_id, party=party, method=method, channel=channel, amount=amount, fee=fee,
            currency=currency, reference=reference, received_on=received_on or self.clock.today(),
            recorded_by=recorded_by, at=self.clock.now(), gateway=gateway, remittance_id=remittance_id,
        )
        await self.repos.payments.save(payment_id, payment, events, subject=customer_id, connection=conn)
        if allocations:
            await self._allocate(conn, payment, allocations, AllocationRule.EXPLICIT)
        elif allocate:
            await self.allocate_oldest_first(conn, payment)
        return payment

    async def receive_from_agency(
        self, conn: asyncpg.Connection, payment_id: str, *, customer_id: str, invoice_id: str, agency_id: str,
        agency_name: str, amount: int, fee: int, currency: str, reference: str | None, collected_on: date,
    ) -> Payment | None:
        """A collection agency collected ``amount`` from the customer on ``invoice_id`` and keeps
        ``fee`` of it: the account falls by ``amount``, which pays that invoice up to what it still
        asks; the rest stays on the account as credit, all of it when the invoice is not the
        customer's own open one in that currency (unknown, a payer's, paid, voided). None when
        ``payment_id`` was received before: the agency's report is taken once."""
        if (await self.repos.payments.get_or_new(payment_id, connection=conn)).received is not None:
            return None
        invoice = (await invoices_locked(conn, [invoice_id])).get(invoice_id)
        allocations = None
        if (invoice is not None and invoice.customer_id == customer_id and invoice.currency == currency
                and invoice.billed_party == "customer" and invoice.balance > 0):
            allocations = [Allocation(
                invoice_id=invoice.invoice_id, invoice_number=invoice.number, amount=min(amount, invoice.balance),
            )]
        return await self.receive(
            conn, payment_id, customer_id=customer_id,
            party=PayingParty(kind=PartyKind.COLLECTION_AGENCY, name=agency_name, agency_id=agency_id),
            method=PaymentMethod.OTHER, channel=PaymentChannel.AGENCY, amount=amount, fee=fee, currency=currency,
            reference=reference, received_on=collected_on, recorded_by=f"agency:{agency_id}",
            allocations=allocations, allocate=False,
        )

    async def allocate(
        self, conn: asyncpg.Connection, payment_id: str, allocations: Sequence[Allocation] | None,
        expected_version: int | None = None,
    ) -> Payment:
        payment = await self.repos.payments.get(payment_id, connection=conn, expected_version=expected_version)
        if allocations:
            await self._allocate(conn, payment, allocations, AllocationRule.EXPLICIT)
        else:
            await self.allocate_oldest_first(conn, payment)
        return payment

    async def allocate_oldest_first(
        self, conn: asyncpg.Connection, payment: Payment, rule: AllocationRule = AllocationRule.OLDEST_FIRST,
    ) -> None:
        if payment.unallocated <= 0:
            return
        assert payment.received is not None
        invoices = await payable_invoices(conn, payment.customer_id, payment.currency, payment.received.party.payer_id)
        allocations = oldest_first(list(invoices.values()), payment.unallocated)
        await self._save_allocation(conn, payment, allocations, invoices, rule)

    async def _allocate(
        self, conn: asyncpg.Connection, payment: Payment, allocations: Sequence[Allocation], rule: AllocationRule,
    ) -> None:
        invoices = await invoices_locked(conn, [a.invoice_id for a in allocations])
        numbered = [
            a.model_copy(update={"invoice_number": invoices[a.invoice_id].number}) if a.invoice_id in invoices else a
            for a in allocations
        ]
        await self._save_allocation(conn, payment, numbered, invoices, rule)

    async def _save_allocation(
        self, conn: asyncpg.Connection, payment: Payment, allocations: Sequence[Allocation],
        invoices: dict[str, OpenInvoice], rule: AllocationRule,
    ) -> None:
        events = payment.allocate(allocations, invoices, rule, self.clock.now())
        await self.repos.payments.save(
            payment.payment_id, payment, events, subject=payment.customer_id, connection=conn,
        )
        for event in events:
            assert isinstance(event, PaymentAllocated)
            await self._count_toward_plans(conn, payment.payment_id, event.allocations)

    async def refund(
        self, conn: asyncpg.Connection, payment_id: str, refund_id: str, *, amount: int, method: PaymentMethod,
        reference: str | None, reason: str, refunded_by: str,
    ) -> Payment:
        payment = await self.repos.payments.get(payment_id, connection=conn)
        events = payment.refund(refund_id, amount, method, reference, reason, refunded_by, self.clock.now())
        await self.repos.payments.save(payment_id, payment, events, subject=payment.customer_id, connection=conn)
        return payment

    async def reverse(
        self, conn: asyncpg.Connection, payment_id: str, *, reason: ReversalReason, reference: str | None,
        reversed_by: str, expected_version: int | None = None,
    ) -> Payment:
        """The payment did not hold: the invoices it paid are owed again, and plans it counted
        toward lose it."""
        payment = await self.repos.payments.get(payment_id, connection=conn, expected_version=expected_version)
        events = payment.reverse(reason, reference, reversed_by, self.clock.now())
        await invoices_locked(conn, list(payment.allocations))
        await self.repos.payments.save(payment_id, payment, events, subject=payment.customer_id, connection=conn)
        for event in events:
            assert isinstance(event, PaymentReversed)
            await self._uncount_from_plans(conn, payment_id, event.released)
        return payment

    async def release_excess(self, conn: asyncpg.Connection, invoice_id: str, reason: str) -> int:
        """When an invoice asks less than was paid on it (credited, voided or written off after it
        was paid), give the excess back to its payments' credit, the latest payment first."""
        invoices = await invoices_locked(conn, [invoice_id])
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.balance >= 0:
            return 0
        excess = -invoice.balance
        rows = await conn.fetch(
            """SELECT a.payment_id, a.amount FROM allocations a JOIN payments p USING (payment_id)
               WHERE a.invoice_id = $1 AND a.amount > 0 ORDER BY p.recorded_at DESC, a.payment_id DESC""",
            invoice_id,
        )
        released = 0
        for row in rows:
            if excess <= 0:
                break
            payment = await self.repos.payments.get(row["payment_id"], connection=conn)
            events = payment.release(invoice_id, excess, reason, self.clock.now())
            await self.repos.payments.save(
                payment.payment_id, payment, events, subject=payment.customer_id, connection=conn,
            )
            for event in events:
                assert isinstance(event, AllocationReleased)
                excess -= event.amount
                released += event.amount
                await self._uncount_from_plans(conn, payment.payment_id, [
                    Allocation(invoice_id=invoice_id, invoice_number=event.invoice_number, amount=event.amount),
                ])
        return released

    async def apply_credit(self, conn: asyncpg.Connection, customer_id: str, currency: str) -> int:
        """Pay the customer's open invoices from the account's credit (payments the customer or
        anyone but a payer made), the oldest credit first."""
        rows = await conn.fetch(
            f"SELECT payment_id FROM payments WHERE {ACCOUNT_CREDIT} ORDER BY recorded_at, payment_id",
            customer_id, currency,
        )
        applied = 0
        for row in rows:
            payment = await self.repos.payments.get(row["payment_id"], connection=conn)
            before = payment.unallocated
            await self.allocate_oldest_first(conn, payment, AllocationRule.CREDIT)
            applied += before - payment.unallocated
        return applied

    async def credit_of(self, conn: asyncpg.Connection, customer_id: str, currency: str) -> int:
        """The account's credit: what payments by the customer or on their behalf left unused."""
        return await conn.fetchval(
            f"SELECT COALESCE(sum(amount - allocated - refunded), 0) FROM payments WHERE {ACCOUNT_CREDIT}",
            customer_id, currency,
        )

    async def invoice_issued(self, conn: asyncpg.Connection, customer_id: str, currency: str) -> None:
        if self.apply_credit_to_new_invoices:
            await self.apply_credit(conn, customer_id, currency)

    # -- plans -----------------------------------------------------------------------------------

    async def plannable_invoices(
        self, conn: asyncpg.Connection, customer_id: str, invoice_ids: Sequence[str] | None, currency: str,
    ) -> dict[str, OpenInvoice]:
        """The named invoices (all the customer's open ones by default), each the customer's own,
        open, in ``currency`` and in no active plan."""
        if invoice_ids:
            invoices = await invoices_locked(conn, invoice_ids)
            for position, invoice_id in enumerate(invoice_ids):
                field = f"invoice_ids[{position}]"
                invoice = invoices.get(invoice_id)
                if invoice is None or invoice.customer_id != customer_id:
                    raise RuleViolated(field, f"no invoice {invoice_id} of this customer")
                if invoice.currency != currency:
                    raise RuleViolated(field, f"invoice {invoice.number} is in {invoice.currency}")
                if invoice.balance <= 0:
                    raise RuleViolated(field, f"invoice {invoice.number} is paid")
        else:
            invoices = await payable_invoices(conn, customer_id, currency, None)
        planned = next((i.plan_id for i in invoices.values() if i.plan_id), None)
        if planned:
            raise RuleViolated("invoice_ids", f"invoices are already in payment plan {planned}")
        if any(i.billed_party != "customer" for i in invoices.values()):
            raise RuleViolated("invoice_ids", "a payment plan is for the customer's own invoices")
        return invoices

    def _check_count(self, instalments: int) -> None:
        if instalments > self.plan_policy.max_instalments:
            raise RuleViolated("instalments", f"a plan has at most {self.plan_policy.max_instalments} instalments")

    async def quote_plan(
        self, conn: asyncpg.Connection, *, customer_id: str, invoice_ids: Sequence[str] | None, currency: str,
        instalments: int, frequency: Frequency, first_due: date, down_payment: int,
    ) -> tuple[int, list[Instalment]]:
        """The balance a plan would be for and its schedule, agreeing nothing."""
        self._check_count(instalments)
        total = sum(i.balance for i in (await self.plannable_invoices(conn, customer_id, invoice_ids, currency)).values())
        return total, schedule(
            total=total, down_payment=down_payment, count=instalments, frequency=frequency, first_due=first_due,
            agreed_on=self.clock.today(), minimum_instalment=self.plan_policy.minimum_instalment,
        )

    async def agree_plan(
        self, conn: asyncpg.Connection, plan_id: str, *, customer_id: str, invoice_ids: Sequence[str] | None,
        currency: str, instalments: int, frequency: Frequency, first_due: date, down_payment: int, agreed_by: str,
    ) -> PaymentPlan:
        """A plan for the balance of the named invoices (all the customer's open ones by default)."""
        policy = self.plan_policy
        self._check_count(instalments)
        invoices = await self.plannable_invoices(conn, customer_id, invoice_ids, currency)
        plan = await self.repos.plans.get_or_new(plan_id, connection=conn)
        events = plan.agree(
            customer_id=customer_id, invoice_ids=sorted(invoices), currency=currency,
            total=sum(i.balance for i in invoices.values()), down_payment=down_payment, count=instalments,
            frequency=frequency, first_due=first_due, minimum_instalment=policy.minimum_instalment,
            default_after_missed=policy.default_after_missed, grace_days=policy.grace_days,
            agreed_by=agreed_by, at=self.clock.now(), today=self.clock.today(),
        )
        await self.repos.plans.save(plan_id, plan, events, subject=customer_id, connection=conn)
        return plan

    async def _count_toward_plans(self, conn: asyncpg.Connection, payment_id: str, allocations: Sequence[Allocation]) -> None:
        await self._plans_paid(conn, payment_id, allocations, counted=True)

    async def _uncount_from_plans(self, conn: asyncpg.Connection, payment_id: str, released: Sequence[Allocation]) -> None:
        await self._plans_paid(conn, payment_id, released, counted=False)

    async def _plans_paid(
        self, conn: asyncpg.Connection, payment_id: str, allocations: Sequence[Allocation], *, counted: bool,
    ) -> None:
        """Count what a payment paid on plans' invoices toward each plan (active ones), or take
        back what it no longer pays (from active or completed ones)."""
        rows = await conn.fetch(
            """SELECT plan_id, unnest(invoice_ids) AS invoice_id FROM plans
               WHERE status = ANY($2::text[]) AND invoice_ids && $1::text[]""",
            [a.invoice_id for a in allocations], ["active"] if counted else ["active", "completed"],
        )
        plans = {r["invoice_id"]: r["plan_id"] for r in rows}
        amounts: dict[str, int] = defaultdict(int)
        for allocation in allocations:
            if allocation.invoice_id in plans:
                amounts[plans[allocation.invoice_id]] += allocation.amount
        for plan_id, amount in sorted(amounts.items()):
            plan = await self.repos.plans.get(plan_id, connection=conn)
            decide = plan.count_payment if counted else plan.uncount_payment
            events = decide(payment_id, amount, self.clock.now())
            await self.repos.plans.save(plan_id, plan, events, subject=plan.terms.customer_id, connection=conn)

    # -- how to pay ------------------------------------------------------------------------------

    async def publish_instructions(
        self, conn: asyncpg.Connection, business_id: str, *, business_name: str, options: Sequence[PaymentOption],
        notes: str | None, published_by: str, expected_version: int | None,
    ) -> Instructions:
        instructions = await self.repos.instructions.get_or_new(
            business_id, connection=conn, expected_version=expected_version,
        )
        event = PaymentInstructionsPublished(
            business_id=business_id, business_name=business_name, options=list(options), notes=notes,
            published_by=published_by, published_at=self.clock.now(),
        )
        await self.repos.instructions.save(business_id, instructions, [event], subject=business_id, connection=conn)
        return instructions
