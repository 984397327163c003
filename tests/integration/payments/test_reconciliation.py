"""For any sequence of payments, allocations, refunds and reversals (with invoicing's credit
notes, voids and new invoices arriving over Kafka in between), invoice balances and the
customer's balance reconcile to the cent, also after a rebuild from the log.

Each example is a new customer with a few invoices (some billed to a payer). The test keeps its
own model of what each invoice asks and what each payment did, in plain dicts, and works out
from it what every balance must be; the service is asked over HTTP after every step. Requests
the model knows must be refused are answered 422 problem+json naming the field, and change
nothing. At the end the ledger is rebuilt from payments' store and must answer the same, row for
row; one further test rebuilds the invoices from invoicing's topic as well."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.invoicing.domain import events as invoicing
from services.payments.rebuild import rebuild
from tests.integration.payments.conftest import NOW, TODAY, RunningPayments, store_settled, unique
from tests.polling import eventually

PAYER = "acme-health"
PROBLEM = "application/problem+json"

# -- the model -----------------------------------------------------------------------------------


@dataclass
class ModelInvoice:
    issued: invoicing.InvoiceIssued
    to_payer: bool
    credited: int = 0
    voided: bool = False

    @property
    def invoice_id(self) -> str:
        return self.issued.invoice_id

    @property
    def owed(self) -> int:
        return 0 if self.voided else self.issued.total - self.credited

    @property
    def order(self) -> tuple[date, date, str]:
        """Oldest first: by due date, then issue date, then number."""
        return self.issued.due_date, self.issued.issue_date, self.issued.number


@dataclass
class ModelPayment:
    payment_id: str
    from_payer: bool
    amount: int
    allocations: dict[str, int] = field(default_factory=dict)
    refunded: int = 0
    reversed: bool = False

    @property
    def allocated(self) -> int:
        return sum(self.allocations.values())

    @property
    def unallocated(self) -> int:
        return 0 if self.reversed else self.amount - self.allocated - self.refunded


@dataclass
class Model:
    customer_id: str
    invoices: list[ModelInvoice] = field(default_factory=list)
    payments: list[ModelPayment] = field(default_factory=list)

    def paid(self, invoice: ModelInvoice) -> int:
        return sum(p.allocations.get(invoice.invoice_id, 0) for p in self.payments)

    def balance(self, invoice: ModelInvoice) -> int:
        return invoice.owed - self.paid(invoice)

    def allocate(self, payment: ModelPayment, invoice: ModelInvoice, amount: int) -> None:
        payment.allocations[invoice.invoice_id] = payment.allocations.get(invoice.invoice_id, 0) + amount

    def oldest_first(self, payment: ModelPayment) -> None:
        """A payer's payment pays that payer's invoices, anyone else's the customer's own."""
        if payment.unallocated <= 0:
            return
        payable = [i for i in self.invoices
                   if not i.voided and i.to_payer == payment.from_payer and self.balance(i) > 0]
        for invoice in sorted(payable, key=lambda i: i.order):
            share = min(payment.unallocated, self.balance(invoice))
            if share <= 0:
                break
            self.allocate(payment, invoice, share)

    def refusal_of(self, payment: ModelPayment | None, allocations: list[tuple[ModelInvoice, int]]) -> str | None:
        """The field an explicit allocation is refused for, in the order the rules are checked."""
        if payment is not None and payment.reversed:
            return "payment_id"
        seen: set[str] = set()
        for position, (invoice, amount) in enumerate(allocations):
            if invoice.invoice_id in seen:
                return f"allocations[{position}].invoice_id"
            seen.add(invoice.invoice_id)
            if amount > self.balance(invoice):
                return f"allocations[{position}].amount"
        unallocated = payment.unallocated if payment is not None else None
        if unallocated is not None and sum(a for _, a in allocations) > unallocated:
            return "allocations"
        return None

    def release_excess(self, invoice: ModelInvoice) -> None:
        """What an invoice no longer asks goes back to its payments, the latest first (payments
        recorded at the same moment: the greatest id first)."""
        excess = self.paid(invoice) - invoice.owed
        holders = [p for p in self.payments if p.allocations.get(invoice.invoice_id, 0) > 0]
        for payment in sorted(holders, key=lambda p: p.payment_id, reverse=True):
            if excess <= 0:
                break
            released = min(excess, payment.allocations[invoice.invoice_id])
            payment.allocations[invoice.invoice_id] -= released
            excess -= released

    def apply_credit(self) -> None:
        """A new customer invoice is paid from the account's credit, the oldest credit first."""
        credit = [p for p in self.payments if not p.from_payer and p.unallocated > 0]
        for payment in sorted(credit, key=lambda p: p.payment_id):
            self.oldest_first(payment)

    # -- what the service must answer ------------------------------------------------------------

    def invoice_standing(self, invoice: ModelInvoice) -> str:
        if invoice.voided:
            return "voided"
        if self.balance(invoice) <= 0:
            return "paid"
        if TODAY > invoice.issued.due_date:
            return "overdue"
        return "partially_paid" if self.paid(invoice) > 0 else "open"

    def invoice_balance(self, invoice: ModelInvoice) -> dict[str, Any]:
        return {
            "invoice_id": invoice.invoice_id, "billed_party": "payer" if invoice.to_payer else "customer",
            "total": invoice.issued.total, "credited": invoice.credited, "voided": invoice.voided,
            "owed": invoice.owed, "paid": self.paid(invoice), "balance": self.balance(invoice),
            "standing": self.invoice_standing(invoice), "plan_id": None,
        }

    def customer_balance(self) -> dict[str, Any]:
        open_ = [i for i in self.invoices if not i.voided and self.balance(i) > 0]
        own = [i for i in open_ if not i.to_payer]
        owed = sum(self.balance(i) for i in own)
        overdue = sum(self.balance(i) for i in own if TODAY > i.issued.due_date)
        credit = sum(p.unallocated for p in self.payments if not p.from_payer)
        net = owed - credit
        standing = "overdue" if overdue else "open" if net > 0 else "credit" if net < 0 else "settled"
        return {
            "currency": "USD", "owed": owed, "credit": credit, "net": net, "overdue": overdue, "in_plan": 0,
            "with_payers": sum(self.balance(i) for i in open_ if i.to_payer),
            "payer_credit": sum(p.unallocated for p in self.payments if p.from_payer),
            "standing": standing,
        }


# -- the operations ------------------------------------------------------------------------------

# an explicit allocation: which invoice, and either a raw amount or (fit) as much as it can take
explicit = st.lists(st.tuples(st.integers(0, 7), st.integers(1, 6000), st.booleans()), min_size=1, max_size=2)
payment_step = st.tuples(st.just("pay"), st.sampled_from(["customer", "customer", "payer"]), st.integers(1, 12000),
                         st.sampled_from(["oldest_first", "keep", "explicit"]), explicit)
step = st.one_of(
    payment_step,
    st.tuples(st.just("allocate"), st.integers(0, 7), st.sampled_from(["oldest_first", "explicit"]), explicit),
    # a refund of a raw amount, or of all or half of what the payment has left
    st.tuples(st.just("refund"), st.integers(0, 7), st.integers(1, 8000), st.sampled_from(["raw", "all", "half"])),
    st.tuples(st.just("reverse"), st.integers(0, 7)),
    st.tuples(st.just("credit_note"), st.integers(0, 7), st.integers(1, 5000)),
    st.tuples(st.just("void"), st.integers(0, 7)),
    st.tuples(st.just("issue"), st.integers(500, 9000), st.integers(-10, 40)),
)
# some payments first, so that what follows has payments to work on, then anything
operations = st.tuples(st.lists(payment_step, min_size=1, max_size=3), st.lists(step, min_size=2, max_size=9)).map(
    lambda parts: parts[0] + parts[1]
)
# the customer's first invoices: total, due in days from today, billed to the payer
first_invoices = st.lists(
    st.tuples(st.integers(500, 9000), st.integers(-10, 40), st.booleans()), min_size=2, max_size=4,
).filter(lambda invoices: not all(to_payer for _, _, to_payer in invoices))


class Reconciliation:
    """Runs operations against the service and the model side by side."""

    def __init__(self, payments: RunningPayments, model: Model) -> None:
        self.payments = payments
        self.model = model
        self.refusals = 0

    async def issue(self, total: int, due_in: int, to_payer: bool) -> None:
        issued = await self.payments.issue_invoice(
            self.model.customer_id, total, due_date=TODAY + timedelta(days=due_in),
            payer_id=PAYER if to_payer else None,
        )
        self.model.invoices.append(ModelInvoice(issued, to_payer))
        if not to_payer:
            self.model.apply_credit()

    def _explicit(self, payment: ModelPayment | None, amount: int, requests: list[tuple[int, int, bool]]
                  ) -> list[tuple[ModelInvoice, int]]:
        invoices = self.model.invoices
        remaining = payment.unallocated if payment is not None else amount
        chosen: list[tuple[ModelInvoice, int]] = []
        for which, raw, fit in requests:
            invoice = invoices[which % len(invoices)]
            share = max(1, min(self.model.balance(invoice), remaining)) if fit else raw
            remaining -= share
            chosen.append((invoice, share))
        return chosen

    def refused(self, answer: Any, expected_field: str) -> None:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"][0]["field"] == expected_field, answer.text
        self.refusals += 1

    async def run(self, step: tuple[Any, ...]) -> None:
        model, api = self.model, self.payments.api
        payments = model.payments
        match step:
            case ("pay", party_kind, amount, mode, requests):
                from_payer = party_kind == "payer"
                body: dict[str, Any] = {
                    "customer_id": model.customer_id, "method": "cheque" if from_payer else "card",
                    "party": ({"kind": "insurer", "name": "Acme Health", "payer_id": PAYER} if from_payer
                              else {"kind": "customer", "name": "Ada Lovelace"}),
                    "amount": amount, "currency": "USD", "reference": unique("ref-"),
                }
                chosen: list[tuple[ModelInvoice, int]] = []
                if mode == "keep":
                    body["allocate"] = False
                elif mode == "explicit":
                    chosen = self._explicit(None, amount, requests)
                    body["allocations"] = [{"invoice_id": i.invoice_id, "amount": a} for i, a in chosen]
                refusal = model.refusal_of(None, chosen) if chosen else None
                if refusal is None and sum(a for _, a in chosen) > amount:
                    refusal = "allocations"
                answer = await api.post("/v1/payments", json=body)
                if refusal is not None:
                    self.refused(answer, refusal)
                    return
                assert answer.status_code == 201, answer.text
                payment = ModelPayment(answer.json()["payment_id"], from_payer, amount)
                payments.append(payment)
                if mode == "oldest_first":
                    model.oldest_first(payment)
                for invoice, share in chosen:
                    model.allocate(payment, invoice, share)
            case ("allocate", which, mode, requests) if payments:
                payment = payments[which % len(payments)]
                chosen = self._explicit(payment, 0, requests) if mode == "explicit" else []
                answer = await api.post(f"/v1/payments/{payment.payment_id}/allocations", json={
                    "allocations": [{"invoice_id": i.invoice_id, "amount": a} for i, a in chosen] or None,
                })
                refusal = model.refusal_of(payment, chosen) if chosen else None
                if refusal is not None:
                    self.refused(answer, refusal)
                    return
                assert answer.status_code == 200, answer.text
                if chosen:
                    for invoice, share in chosen:
                        model.allocate(payment, invoice, share)
                else:
                    model.oldest_first(payment)
            case ("refund", which, raw, part) if payments:
                payment = payments[which % len(payments)]
                amount = {"raw": raw, "all": payment.unallocated, "half": payment.unallocated // 2}[part] or raw
                answer = await api.post(f"/v1/payments/{payment.payment_id}/refunds",
                                        json={"amount": amount, "method": "card", "reason": "overpaid"})
                if payment.reversed:
                    self.refused(answer, "payment_id")
                elif amount > payment.unallocated:
                    self.refused(answer, "amount")
                else:
                    assert answer.status_code == 201, answer.text
                    payment.refunded += amount
            case ("reverse", which) if payments:
                payment = payments[which % len(payments)]
                answer = await api.post(f"/v1/payments/{payment.payment_id}/reversal",
                                        json={"reason": "bounced_cheque", "reference": "NSF"})
                if payment.reversed:
                    self.refused(answer, "payment_id")
                else:
                    assert answer.status_code == 200, answer.text
                    payment.reversed, payment.allocations = True, {}
            case ("credit_note", which, raw):
                invoice = model.invoices[which % len(model.invoices)]
                amount = min(raw, invoice.owed)
                if amount <= 0:
                    return  # invoicing credits nothing more than an invoice asks
                issued = invoice.issued
                await self.payments.publish(invoicing.CreditNoteIssued(
                    credit_note_id=unique("cn_"), number=unique("CN-2026-"), series="CN",
                    invoice_id=issued.invoice_id, invoice_number=issued.number, customer_id=model.customer_id,
                    lines=[invoicing.CreditedLine(line_id=issued.lines[0].line_id, amount=amount)], total=amount,
                    currency="USD", reason="goodwill", issued_by="billing", issue_date=TODAY, issued_at=NOW,
                ), model.customer_id)
                invoice.credited += amount
                await self._seen(invoice, "credited", invoice.credited)
                model.release_excess(invoice)
            case ("void", which):
                invoice = model.invoices[which % len(model.invoices)]
                if invoice.voided:
                    return
                await self.payments.publish(invoicing.InvoiceVoided(
                    invoice_id=invoice.invoice_id, number=invoice.issued.number, customer_id=model.customer_id,
                    reason="issued in error", voided_by="billing", voided_at=NOW,
                ), model.customer_id)
                invoice.voided = True
                await self._seen(invoice, "voided", True)
                model.release_excess(invoice)
            case ("issue", total, due_in):
                await self.issue(total, due_in, to_payer=False)

    async def _seen(self, invoice: ModelInvoice, column: str, value: object) -> None:
        """Wait until payments folded invoicing's event (the release runs in the same transaction)."""
        async def folded() -> bool:
            return await self.payments.pool.fetchval(
                f"SELECT {column} FROM invoices WHERE invoice_id = $1", invoice.invoice_id,
            ) == value

        await eventually(folded, timeout=20, message=f"payments saw {column} of {invoice.issued.number}")

    # -- checks ----------------------------------------------------------------------------------

    async def customer_balance(self) -> dict[str, Any]:
        answer = await self.payments.api.get(f"/v1/customers/{self.model.customer_id}/balance")
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def assert_balances(self) -> dict[str, Any]:
        """The customer's balance and every invoice's, as the model says; the answer is returned."""
        answer = await self.customer_balance()
        assert answer["balances"] == [self.model.customer_balance()]
        fields = ("invoice_id", "billed_party", "total", "credited", "voided", "owed", "paid", "balance",
                  "standing", "plan_id")
        answered = sorted(({k: i[k] for k in fields} for i in answer["invoices"]), key=lambda i: i["invoice_id"])
        expected = sorted((self.model.invoice_balance(i) for i in self.model.invoices),
                          key=lambda i: i["invoice_id"])
        assert answered == expected
        return answer

    async def assert_payments(self) -> list[dict[str, Any]]:
        answer = await self.payments.api.get(f"/v1/customers/{self.model.customer_id}/payments")
        assert answer.status_code == 200, answer.text
        items = {p["payment_id"]: p for p in answer.json()["items"]}
        assert set(items) == {p.payment_id for p in self.model.payments}
        for payment in self.model.payments:
            item = items[payment.payment_id]
            assert (item["amount"], item["allocated"], item["refunded"], item["unallocated"], item["reversed"]) == (
                payment.amount, payment.allocated, payment.refunded, payment.unallocated, payment.reversed)
            assert {a["invoice_id"]: a["amount"] for a in item["allocations"]} == {
                k: v for k, v in payment.allocations.items() if v > 0}
            if not payment.reversed:
                assert item["amount"] == item["allocated"] + item["refunded"] + item["unallocated"]
        return list(items.values())

    async def assert_reconciled(self) -> dict[str, Any]:
        """Balances as the model says, each invoice's own answer too, and what invoices were paid
        equals what payments allocated."""
        answer = await self.assert_balances()
        for invoice in self.model.invoices:
            single = await self.payments.api.get(f"/v1/invoices/{invoice.invoice_id}/balance")
            assert single.status_code == 200, single.text
            assert {k: single.json()[k] for k in self.model.invoice_balance(invoice)} == (
                self.model.invoice_balance(invoice))
        payments = await self.assert_payments()
        assert sum(i["paid"] for i in answer["invoices"]) == sum(p["allocated"] for p in payments)
        return answer


LEDGER_TABLES = {
    "payments": "SELECT to_jsonb(p) FROM payments p ORDER BY payment_id",
    "allocations": "SELECT to_jsonb(a) FROM allocations a ORDER BY payment_id, invoice_id",
    "refunds": "SELECT to_jsonb(r) FROM refunds r ORDER BY refund_id",
}


async def ledger_tables(payments: RunningPayments) -> dict[str, list[Any]]:
    return {table: [row[0] for row in await payments.pool.fetch(query)] for table, query in LEDGER_TABLES.items()}


async def invoice_rows(payments: RunningPayments, customer_ids: list[str]) -> list[Any]:
    return [row[0] for row in await payments.pool.fetch(
        "SELECT to_jsonb(i) FROM invoices i WHERE customer_id = ANY($1::text[]) ORDER BY invoice_id", customer_ids,
    )]


async def play(payments: RunningPayments, invoices: list[tuple[int, int, bool]],
               steps: list[tuple[Any, ...]]) -> Reconciliation:
    reconciliation = Reconciliation(payments, Model(unique("cus_")))
    for total, due_in, to_payer in invoices:
        await reconciliation.issue(total, due_in, to_payer)
    await reconciliation.assert_balances()
    for step in steps:
        await reconciliation.run(step)
        await reconciliation.assert_balances()
    return reconciliation


# an example costs a few Kafka round trips and is short enough to read as found: not shrunk
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(invoices=first_invoices, steps=operations)
async def test_balances_reconcile_to_the_cent_for_any_sequence_also_after_a_rebuild(
    payments: RunningPayments, invoices: list[tuple[int, int, bool]], steps: list[tuple[Any, ...]],
) -> None:
    reconciliation = await play(payments, invoices, steps)
    before = await reconciliation.assert_reconciled()
    await store_settled(payments)
    tables = await ledger_tables(payments)

    await rebuild("ledger", payments.app.state.settings)

    assert await ledger_tables(payments) == tables
    assert await reconciliation.assert_reconciled() == before


async def test_balances_reconcile_after_rebuilding_the_ledger_and_the_invoices_from_the_log(
    payments: RunningPayments,
) -> None:
    """Every kind of step once, for a customer and a payer; then both models payments folds are
    rebuilt: the ledger from payments' store, the invoices from invoicing's topic on Kafka."""
    reconciliation = await play(payments, [(3000, -5, False), (4000, 10, False), (9000, 20, True)], [
        ("pay", "customer", 5000, "oldest_first", []),  # pays the overdue 3000 and 2000 of the next
        ("pay", "payer", 9500, "oldest_first", []),  # pays its claim; 500 is the payer's credit
        ("pay", "customer", 2500, "keep", []),
        ("refund", 2, 3000, "raw"),  # more than is unallocated: refused
        ("allocate", 2, "explicit", [(1, 1000, False)]),
        ("refund", 2, 500, "raw"),
        ("credit_note", 1, 2500),  # the 4000 asks 1500 but 3000 was paid: 1500 released
        ("void", 0),  # the overdue one: all 3000 released
        ("issue", 6000, 30),  # paid from the credit
        ("reverse", 0),
        ("reverse", 0),  # again: refused
        ("allocate", 0, "explicit", [(3, 100, False)]),  # from a reversed payment: refused
    ])
    assert reconciliation.refusals == 3
    before = await reconciliation.assert_reconciled()
    customers = [reconciliation.model.customer_id]
    await store_settled(payments)
    tables, invoices = await ledger_tables(payments), await invoice_rows(payments, customers)

    assert await rebuild("ledger", payments.app.state.settings) > 0
    assert await rebuild("feeds", payments.app.state.settings) > 0

    assert await ledger_tables(payments) == tables
    assert await invoice_rows(payments, customers) == invoices
    assert await reconciliation.assert_reconciled() == before
