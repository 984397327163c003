"""Card and bank gateways' notifications, taken once each.

The signature and its age are checked before this (adapters/gateway_signature.py). Here each
notification id is recorded in the same transaction as what it causes, so a gateway's retry, or a
replay within the signature's tolerance, changes nothing: it is answered as a duplicate. A
payment is identified by the gateway's own payment reference, so a second notification of the
same payment is harmless too.

- ``payment.succeeded``: a card or bank payment came in (PaymentReceived, then allocated to the
  invoices it names, or oldest first);
- ``payment.refunded``: the gateway paid money back (RefundIssued);
- ``payment.disputed``: a chargeback (PaymentReversed);
- ``payment.returned``: a bank transfer came back (PaymentReversed).

Other types are recorded and ignored: gateways send many kinds we have no use for."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.payments.application.ledger import Ledger, invoices_locked
from services.payments.domain.events import (
    Allocation,
    PartyKind,
    PayingParty,
    PaymentChannel,
    PaymentMethod,
    ReversalReason,
)
from shared.clock import Clock
from shared.rules import RuleViolated


class Notification(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)
    data: dict[str, object] = {}


class Succeeded(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payment_reference: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1)
    amount: int = Field(gt=0, description="Minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    method: Literal["card", "bank_transfer"] = "card"
    payer_name: str | None = None
    invoice_ids: list[str] = []
    received_on: date | None = None


class Refunded(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payment_reference: str = Field(min_length=1, max_length=200)
    refund_reference: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0)
    reason: str = "refunded at the gateway"


class Reversed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payment_reference: str = Field(min_length=1, max_length=200)
    reference: str | None = None


class MalformedNotification(ValueError):
    """The notification's data does not say what its type needs; ``errors`` name the fields."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


M = TypeVar("M", bound=BaseModel)


def data_of(model: type[M], notification: Notification) -> M:
    try:
        return model.model_validate(notification.data)
    except ValidationError as invalid:
        raise MalformedNotification([
            (".".join(["data", *(str(part) for part in error["loc"])]), error["msg"]) for error in invalid.errors()
        ]) from None


class PaymentNotYetKnown(Exception):
    """A refund or dispute for a payment whose notification has not come yet: the gateway will
    send it again."""


def gateway_payment_id(gateway: str, reference: str) -> str:
    return "pay_gw_" + hashlib.sha256(f"{gateway}|{reference}".encode()).hexdigest()[:24]


class Gateways:
    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self.ledger = ledger
        self.clock = clock

    async def take(self, conn: asyncpg.Connection, gateway: str, notification: Notification) -> str:
        """``taken``, ``duplicate`` or ``ignored``."""
        recorded = await conn.fetchval(
            """INSERT INTO gateway_notifications (gateway, notification_id, notification_type, outcome, received_at)
               VALUES ($1, $2, $3, 'taken', $4) ON CONFLICT DO NOTHING RETURNING 1""",
            gateway, notification.id, notification.type, self.clock.now(),
        )
        if recorded is None:
            return "duplicate"
        who = f"gateway:{gateway}"
        match notification.type:
            case "payment.succeeded":
                paid = data_of(Succeeded, notification)
                payment_id = gateway_payment_id(gateway, paid.payment_reference)
                if (await self.ledger.repos.payments.get_or_new(payment_id, connection=conn)).version:
                    return await self._outcome(conn, gateway, notification, "duplicate")
                await self.ledger.receive(
                    conn, payment_id, customer_id=paid.customer_id,
                    party=PayingParty(kind=PartyKind.CUSTOMER, name=paid.payer_name or paid.customer_id),
                    method=PaymentMethod(paid.method), channel=PaymentChannel.GATEWAY, amount=paid.amount, fee=0,
                    currency=paid.currency, reference=paid.payment_reference, received_on=paid.received_on,
                    recorded_by=who, gateway=gateway,
                    allocations=await self._named(conn, paid),
                    allocate=not paid.invoice_ids,
                )
            case "payment.refunded":
                refunded = data_of(Refunded, notification)
                payment_id = await self._known(conn, gateway, refunded.payment_reference)
                refund_id = "ref_gw_" + hashlib.sha256(
                    f"{gateway}|{refunded.refund_reference}".encode()
                ).hexdigest()[:24]
                if await conn.fetchval("SELECT 1 FROM refunds WHERE refund_id = $1", refund_id):
                    return await self._outcome(conn, gateway, notification, "duplicate")
                await self.ledger.refund(
                    conn, payment_id, refund_id, amount=refunded.amount, method=PaymentMethod.CARD,
                    reference=refunded.refund_reference, reason=refunded.reason, refunded_by=who,
                )
            case "payment.disputed" | "payment.returned":
                reversed_ = data_of(Reversed, notification)
                payment_id = await self._known(conn, gateway, reversed_.payment_reference)
                payment = await self.ledger.repos.payments.get(payment_id, connection=conn)
                if payment.reversed is not None:
                    return await self._outcome(conn, gateway, notification, "duplicate")
                await self.ledger.reverse(
                    conn, payment_id,
                    reason=ReversalReason.CHARGEBACK if notification.type == "payment.disputed"
                    else ReversalReason.BANK_RETURN,
                    reference=reversed_.reference, reversed_by=who,
                )
            case _:
                return await self._outcome(conn, gateway, notification, "ignored")
        return "taken"

    async def _known(self, conn: asyncpg.Connection, gateway: str, reference: str) -> str:
        payment_id = gateway_payment_id(gateway, reference)
        if not await conn.fetchval("SELECT 1 FROM payments WHERE payment_id = $1", payment_id):
            raise PaymentNotYetKnown(reference)
        return payment_id

    @staticmethod
    async def _named(conn: asyncpg.Connection, paid: Succeeded) -> list[Allocation]:
        """A gateway names the invoices a payment is for, not how much each gets: each in turn
        gets what it asks while the payment lasts; the rest stays as credit. An invoice that is
        not the customer's is refused, and the gateway sends the notification again once
        someone has looked."""
        invoices = await invoices_locked(conn, paid.invoice_ids)
        allocations, amount = [], paid.amount
        for position, invoice_id in enumerate(paid.invoice_ids):
            invoice = invoices.get(invoice_id)
            if invoice is None or invoice.customer_id != paid.customer_id or invoice.currency != paid.currency:
                raise RuleViolated(
                    f"data.invoice_ids[{position}]", f"no invoice {invoice_id} of customer {paid.customer_id} in {paid.currency}"
                )
            share = min(invoice.balance, amount)
            if share > 0:
                allocations.append(Allocation(invoice_id=invoice_id, invoice_number=invoice.number, amount=share))
                amount -= share
        return allocations

    @staticmethod
    async def _outcome(conn: asyncpg.Connection, gateway: str, notification: Notification, outcome: str) -> str:
        await conn.execute(
            "UPDATE gateway_notifications SET outcome = $3 WHERE gateway = $1 AND notification_id = $2",
            gateway, notification.id, outcome,
        )
        return outcome
