"""Collections' use cases: open a debt when payments reports an invoice missed, review debts on
the injected clock (a dunning run: notices, postponements, escalations, settlements), and the
commands of staff (contact attempts, disputes, recalls) and of agencies (acknowledgement,
payments collected, return as uncollectible).

Each debt is reviewed in its own transaction on its own stream, so a run that restarts halfway,
or two runs at once, take each action once: the second decision finds the first one's events, or
loses the append race and is dropped (the next run looks again)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from services.collections.adapters.upstream_events import PaymentMissed
from services.collections.domain.debt import Debt, DebtNotFound, Facts, PlacementNotFound
from services.collections.domain.events import (
    Channel,
    Debtor,
    Destination,
    DisputeOutcome,
    Itemization,
    NoticeDeliveryFailed,
    NoticeSent,
    PaymentWay,
    RecallReason,
)
from services.collections.domain.policy import Agency, Policies
from shared.clock import Clock
from shared.events import DomainEvent
from shared.eventstore import ConcurrencyConflict, retry_on_conflict
from shared.eventstore.repository import EventSourcedRepository

log = logging.getLogger(__name__)


@dataclass
class DunningRun:
    at: datetime
    reviewed: int = 0
    conflicts: int = 0  # debts left for the next run: they kept changing while reviewed
    failed: int = 0  # debts whose review failed (logged); tried again by the next run
    outcomes: Counter[str] = field(default_factory=Counter)  # event type name -> how many


def postal_lines(address: dict[str, Any]) -> list[str]:
    region = " ".join(p for p in (address.get("region"), address.get("postal_code")) if p)
    return [*address.get("lines", []), ", ".join(p for p in (address.get("city"), region) if p),
            address.get("country", "")]


def _usable(points: list[dict[str, Any]], bounced: set[str]) -> tuple[dict[str, Any] | None, str | None]:
    """The contact point to use (a billing one first) and, if none, the one that bounced."""
    ordered = sorted(points, key=lambda p: p.get("use") != "billing")
    usable = next((p for p in ordered if p["id"] not in bounced), None)
    refused = next((p["id"] for p in ordered if p["id"] in bounced), None)
    return usable, refused


def itemize(invoice: asyncpg.Record, as_of: date) -> Itemization:
    """An invoice row (with ``paid``, what payments allocated to it) as the customer is told it."""
    total, paid = invoice["total"], invoice["paid"]
    if invoice["voided"]:
        adjustments = total - paid  # a void takes off whatever was not paid
    else:
        adjustments = min(total - paid, invoice["credited"] + invoice["written_off"] + invoice["transferred"])
    return Itemization(
        itemization_date=as_of, currency=invoice["currency"], original_amount=total, payments=paid,
        adjustments=adjustments, balance=total - paid - adjustments,
    )


# `@>` with an array, in this form, is what the GIN index on plans.invoice_ids answers, whether
# PostgreSQL plans the prepared statement for the value or generically (`= ANY` scans every plan)
IN_ACTIVE_PLAN = "SELECT count(*) > 0 FROM plans WHERE status = 'active' AND invoice_ids @> ARRAY[$1]::text[]"

INVOICE_BALANCES = """
    SELECT i.*, coalesce((SELECT sum(p.amount) FROM invoice_payments p WHERE p.invoice_id = i.invoice_id), 0)::bigint
           AS paid
    FROM invoices i"""


class Collections:
    def __init__(
        self, pool: asyncpg.Pool, debts: EventSourcedRepository[Debt], policies: Policies, business_id: str,
        clock: Clock,
    ) -> None:
        self.pool = pool
        self.debts = debts
        self.policies = policies
        self.business_id = business_id
        self.clock = clock

    # -- reactions to other services' events (in the consumer's transaction) -----------------------

    async def payment_missed(self, conn: asyncpg.Connection, missed: PaymentMissed) -> None:
        """A customer invoice went unpaid past its due date: open its debt (once)."""
        assert missed.invoice_id is not None
        invoice = await conn.fetchrow("SELECT * FROM invoices WHERE invoice_id = $1", missed.invoice_id)
        if invoice is None:  # invoicing's InvoiceIssued is still on its way: open the debt when it comes
            await conn.execute(
                """INSERT INTO missed_awaiting_invoice (invoice_id, missed, received_at) VALUES ($1, $2, $3)
                   ON CONFLICT (invoice_id) DO NOTHING""",
                missed.invoice_id, missed.model_dump_json(), self.clock.now(),
            )
            return
        debt = await self.debts.get_or_new(missed.invoice_id, connection=conn)
        if debt.opened is not None:
            return
        events = Debt.open(
            missed.invoice_id, customer_id=invoice["customer_id"], business_id=self.business_id,
            invoice_id=missed.invoice_id, invoice_number=invoice["number"], currency=invoice["currency"],
            original_amount=invoice["total"], balance=missed.amount, issue_date=invoice["issue_date"],
            due_date=invoice["due_date"], service_dates=list(invoice["service_dates"]), at=self.clock.now(),
        )
        await self.debts.save(debt.debt_id, debt, events, subject=invoice["customer_id"], connection=conn)

    async def invoice_issued(self, conn: asyncpg.Connection, invoice_id: str) -> None:
        """A customer invoice arrived: open its debt if payments already reported it missed."""
        waiting = await conn.fetchval(
            "DELETE FROM missed_awaiting_invoice WHERE invoice_id = $1 RETURNING missed", invoice_id,
        )
        if waiting is not None:
            await self.payment_missed(conn, PaymentMissed.model_validate_json(waiting))

    async def balance_changed(self, conn: asyncpg.Connection, invoice_id: str) -> None:
        """An open debt whose balance fell to nothing is settled at once (and recalled from an agency)."""
        status = await conn.fetchval("SELECT status FROM debts WHERE debt_id = $1", invoice_id)
        if status not in ("dunning", "escalated"):
            return
        debt = await self.debts.get(invoice_id, connection=conn)
        facts = await self.facts(conn, debt, self.clock.now())
        if facts.balance > 0:
            return
        policy = self.policies.for_business(debt.opened.business_id if debt.opened else self.business_id)
        events = debt.review(facts, policy, self.clock.now(), self.policies.assign)
        await self.debts.save(debt.debt_id, debt, events, subject=debt.customer_id, connection=conn)

    # -- the dunning run ---------------------------------------------------------------------------

    async def run(self, at: datetime | None = None) -> DunningRun:
        """Review every debt in dunning as of ``at`` (the clock's now by default)."""
        run = DunningRun(at or self.clock.now())
        rows = await self.pool.fetch(
            "SELECT debt_id FROM debts WHERE status IN ('dunning', 'escalated') ORDER BY opened_at, debt_id"
        )
        for row in rows:
            try:
                # a notice's delivery being recorded at the same moment is a lost race: decide again
                events = await retry_on_conflict(lambda debt_id=row["debt_id"]: self.review(debt_id, run.at))
            except ConcurrencyConflict:
                log.warning("debt %s kept changing while reviewed; the next run looks again", row["debt_id"])
                run.conflicts += 1
                continue
            except Exception:  # one debt's bad data (say, an unknown time zone) must not stop the others
                log.exception("reviewing debt %s failed; the next run tries again", row["debt_id"])
                run.failed += 1
                continue
            run.reviewed += 1
            run.outcomes.update(type(e).__name__ for e in events)
        return run

    async def review(self, debt_id: str, at: datetime) -> list[DomainEvent]:
        async with self.pool.acquire() as conn, conn.transaction():
            debt = await self.debts.get(debt_id, connection=conn)
            assert debt.opened is not None
            facts = await self.facts(conn, debt, at)
            policy = self.policies.for_business(debt.opened.business_id)
            events = debt.review(facts, policy, at, self.policies.assign)
            await self.debts.save(debt_id, debt, events, subject=debt.customer_id, connection=conn)
            return events

    # -- what the platform knows about a debt ------------------------------------------------------

    async def facts(self, conn: asyncpg.Connection, debt: Debt, at: datetime) -> Facts:
        assert debt.opened is not None
        invoice = await conn.fetchrow(f"{INVOICE_BALANCES} WHERE i.invoice_id = $1", debt.opened.invoice_id)
        customer = await conn.fetchrow("SELECT * FROM customers WHERE customer_id = $1", debt.customer_id)
        payments = await conn.fetch(
            """SELECT p.received_on, p.channel FROM invoice_payments a JOIN payments p USING (payment_id)
               WHERE a.invoice_id = $1 AND a.amount > 0 AND NOT p.reversed""",
            debt.opened.invoice_id,
        )
        in_plan = await conn.fetchval(IN_ACTIVE_PLAN, debt.opened.invoice_id)
        verification_open = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM verification_tasks WHERE debt_id = $1 AND status = 'open')", debt.debt_id,
        )
        instructions = await conn.fetchrow(
            "SELECT options FROM payment_instructions WHERE business_id = $1", debt.opened.business_id,
        )
        itemization = itemize(invoice, at.date())
        placed_on = debt.placement.escalated_at.date() if debt.placement else None
        destinations, bounced, debtor, flags = self._contact(customer)
        return Facts(
            itemization=itemization, debtor=debtor, flags=flags,
            destinations=destinations, bounced=bounced, plan_in_good_standing=bool(in_plan),
            verification_open=bool(verification_open),
            how_to_pay=[PaymentWay.model_validate(o) for o in json.loads(instructions["options"])]
            if instructions else [],
            last_payment_on=max((p["received_on"] for p in payments), default=None),
            paid_directly_since_placement=placed_on is not None and any(
                p["channel"] != "agency" and p["received_on"] >= placed_on for p in payments
            ),
            voided=invoice["voided"],
        )

    @staticmethod
    def _contact(
        customer: asyncpg.Record | None,
    ) -> tuple[dict[Channel, Destination], dict[Channel, str], Debtor | None, frozenset[str]]:
        if customer is None:
            return {}, {}, None, frozenset()
        contact = json.loads(customer["contact"])
        refused = set(customer["bounced"])
        destinations: dict[Channel, Destination] = {}
        bounced: dict[Channel, str] = {}
        email, email_bounced = _usable(contact.get("emails", []), refused)
        if email is not None and contact.get("consents", {}).get("email", False):
            destinations[Channel.EMAIL] = Destination(
                channel=Channel.EMAIL, recipient=email["address"], contact_point_id=email["id"],
            )
        elif email_bounced:
            bounced[Channel.EMAIL] = email_bounced
        address, address_bounced = _usable(contact.get("addresses", []), refused)
        if address is not None and contact.get("consents", {}).get("post", True):
            destinations[Channel.LETTER] = Destination(
                channel=Channel.LETTER, recipient="\n".join(
                    [customer["name"], *(line for line in postal_lines(address) if line)]
                ), contact_point_id=address["id"],
            )
        elif address_bounced:
            bounced[Channel.LETTER] = address_bounced
        debtor = Debtor(
            name=customer["name"],
            addresses=[[line for line in postal_lines(a) if line] for a in contact.get("addresses", [])
                       if a["id"] not in refused],
            phones=[p["number"] for p in contact.get("phones", []) if p["id"] not in refused],
            emails=[e["address"] for e in contact.get("emails", []) if e["id"] not in refused],
            time_zone=customer["time_zone"],
        )
        return destinations, bounced, debtor, frozenset(customer["flags"])

    # -- staff -------------------------------------------------------------------------------------

    async def _change(
        self, conn: asyncpg.Connection, debt_id: str, decide: Callable[[Debt], list[DomainEvent]],
        expected_version: int | None = None,
    ) -> Debt:
        try:
            debt = await self.debts.get(debt_id, connection=conn, expected_version=expected_version)
        except LookupError:
            raise DebtNotFound(debt_id) from None
        events = decide(debt)
        await self.debts.save(debt_id, debt, events, subject=debt.customer_id, connection=conn)
        return debt

    async def record_contact(
        self, conn: asyncpg.Connection, debt_id: str, attempt_id: str, *, channel: str, outcome: str,
        note: str | None, attempted_at: datetime | None, by: str,
    ) -> Debt:
        return await self._change(conn, debt_id, lambda debt: debt.record_contact(
            attempt_id, channel=channel, outcome=outcome, note=note, attempted_at=attempted_at or self.clock.now(),
            by=by,
        ))

    async def open_dispute(self, conn: asyncpg.Connection, debt_id: str, dispute_id: str, *, reason: str, by: str) -> Debt:
        return await self._change(conn, debt_id, lambda debt: debt.open_dispute(
            dispute_id, reason=reason, by=by, at=self.clock.now(),
        ))

    async def resolve_dispute(
        self, conn: asyncpg.Connection, debt_id: str, dispute_id: str, *, outcome: DisputeOutcome,
        note: str | None, by: str,
    ) -> Debt:
        return await self._change(conn, debt_id, lambda debt: debt.resolve_dispute(
            dispute_id, outcome=outcome, note=note, by=by, at=self.clock.now(),
        ))

    async def recall(self, conn: asyncpg.Connection, debt_id: str, *, reason: RecallReason, note: str | None) -> Debt:
        return await self._change(conn, debt_id, lambda debt: debt.recall(reason, note, self.clock.now()))

    # -- agencies ----------------------------------------------------------------------------------

    async def debt_of_placement(self, conn: asyncpg.Connection, placement_id: str, agency_id: str) -> str:
        row = await conn.fetchrow("SELECT debt_id, agency_id FROM placements WHERE placement_id = $1", placement_id)
        if row is None or row["agency_id"] != agency_id:
            # another agency's placement is as unknown to this one as a placement that never was
            raise PlacementNotFound(placement_id)
        return row["debt_id"]

    async def acknowledge(
        self, conn: asyncpg.Connection, placement_id: str, agency: Agency, agency_reference: str | None,
    ) -> Debt:
        debt_id = await self.debt_of_placement(conn, placement_id, agency.id)
        return await self._change(conn, debt_id, lambda debt: debt.acknowledge(
            agency.id, agency_reference, self.clock.now(),
        ))

    async def report_payment(
        self, conn: asyncpg.Connection, placement_id: str, agency: Agency, report_id: str, *, amount: int,
        currency: str, collected_on: date | None, reference: str | None,
    ) -> Debt:
        debt_id = await self.debt_of_placement(conn, placement_id, agency.id)
        return await self._change(conn, debt_id, lambda debt: debt.report_payment(
            report_id, agency, amount=amount, currency=currency,
            collected_on=collected_on or self.clock.today(), reference=reference, at=self.clock.now(),
        ))

    async def give_back(self, conn: asyncpg.Connection, placement_id: str, agency: Agency, reason: str) -> Debt:
        debt_id = await self.debt_of_placement(conn, placement_id, agency.id)
        return await self._change(conn, debt_id, lambda debt: debt.give_back(agency.id, reason, self.clock.now()))


class NoticeOutcomesRecorder:
    """What the delivery worker reports, recorded on the debt's stream: NoticeSent, or
    NoticeDeliveryFailed (a bounce also marks the contact point, so the next notice asks for a
    new one instead of trying it again)."""

    def __init__(self, pool: asyncpg.Pool, debts: EventSourcedRepository[Debt], clock: Clock) -> None:
        self.pool = pool
        self.debts = debts
        self.clock = clock

    async def _record(self, debt_id: str, event: NoticeSent | NoticeDeliveryFailed) -> None:
        async def once() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                debt = await self.debts.get(debt_id, connection=conn)
                if event.notice_id in debt.delivered:  # reported again after a lost acknowledgement
                    return
                await self.debts.save(debt_id, debt, [event], subject=debt.customer_id, connection=conn)
                if isinstance(event, NoticeDeliveryFailed) and event.bounced:
                    await conn.execute(
                        """UPDATE customers SET bounced = array_append(array_remove(bounced, $2), $2)
                           WHERE customer_id = $1""",
                        event.customer_id, event.contact_point_id,
                    )

        await retry_on_conflict(once)

    async def sent(
        self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str, reference: str,
    ) -> None:
        await self._record(debt_id, NoticeSent(
            notice_id=notice_id, debt_id=debt_id, customer_id=customer_id, channel=Channel(channel),
            recipient=recipient, reference=reference, sent_at=self.clock.now(),
        ))

    async def failed(
        self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str, contact_point_id: str,
        *, bounced: bool, reason: str,
    ) -> None:
        await self._record(debt_id, NoticeDeliveryFailed(
            notice_id=notice_id, debt_id=debt_id, customer_id=customer_id, channel=Channel(channel),
            recipient=recipient, contact_point_id=contact_point_id, bounced=bounced, reason=reason,
            failed_at=self.clock.now(),
        ))
