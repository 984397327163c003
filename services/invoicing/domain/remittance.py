"""What a payer's answer to a claim means for the invoice that billed it.

For each line the payer reported (matched by the line item control number the claim sent, REF*6R,
or else by procedure code and charge in order), the part this payer was billed for and did not pay
is its shortfall. Of the shortfall, what the payer adjusted as CO (contractual obligation) or PI
(payer initiated) is the provider's to write off; the rest (PR patient responsibility, OA other,
a denial) moves on to the next responsible party. So for every line
``expected = paid + written_off + transferred`` whenever the payer paid no more than expected.

The remittance follows the payments contract (shared/contracts/payments/); this module reads only
the fields it needs, so payments may add others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict

from services.invoicing.domain.events import (
    AdjustedAmount,
    InvoiceLine,
    PriorPayer,
    RemittedLineOutcome,
)

WRITE_OFF_GROUPS = frozenset({"CO", "PI"})


class Reader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RemittedAdjustment(Reader):
    group: str
    reason_code: str
    amount: int


class RemittedLine(Reader):
    line_reference: str | None = None
    procedure_code: str
    charge: int
    paid: int
    adjustments: list[RemittedAdjustment] = []


class ClaimRemittance(Reader):
    remittance_id: str
    claim_reference: str
    payer_id: str
    customer_id: str
    claim_status: str
    currency: str = "USD"
    charge: int
    paid: int
    claim_adjustments: list[RemittedAdjustment] = []
    lines: list[RemittedLine] = []
    payment_date: date | None = None


def _procedure(code: str) -> str:
    return code.split(":")[1] if ":" in code else code


def match_lines(
    invoice_lines: Sequence[InvoiceLine], remitted: Sequence[RemittedLine]
) -> list[tuple[InvoiceLine, RemittedLine]]:
    """Pair each remitted line with the invoice line it answers; unmatched lines are left out."""
    by_id = {line.line_id: line for line in invoice_lines}
    unclaimed = [line for line in invoice_lines]
    pairs: list[tuple[InvoiceLine, RemittedLine]] = []
    for answer in remitted:
        line = by_id.get(answer.line_reference or "")
        if line is None or line not in unclaimed:
            line = next(
                (c for c in unclaimed
                 if c.code.code == _procedure(answer.procedure_code) and c.charge_amount == answer.charge),
                None,
            )
        if line is not None:
            unclaimed.remove(line)
            pairs.append((line, answer))
    return pairs


def settle_line(line_id: str, expected: int, answer: RemittedLine) -> RemittedLineOutcome:
    shortfall = max(0, expected - answer.paid)
    write_off_adjusted = sum(a.amount for a in answer.adjustments if a.group in WRITE_OFF_GROUPS)
    written_off = min(shortfall, max(0, write_off_adjusted))
    return RemittedLineOutcome(
        line_id=line_id, expected=expected, paid=answer.paid, written_off=written_off,
        transferred=shortfall - written_off,
        reasons=[f"{a.group}-{a.reason_code}" for a in answer.adjustments],
    )


def settle(
    invoice_lines: Sequence[InvoiceLine], open_on_line: dict[str, int], remittance: ClaimRemittance
) -> list[RemittedLineOutcome]:
    """The outcome per invoice line the payer answered for. ``open_on_line`` is what is still
    expected from the payer per line (after credits and earlier remittances)."""
    remitted = list(remittance.lines)
    if not remitted:
        # a claim adjudicated as a whole: spread what was paid and adjusted over the lines in order
        return _settle_whole_claim(invoice_lines, open_on_line, remittance)
    return [
        settle_line(line.line_id, open_on_line[line.line_id], answer)
        for line, answer in match_lines(invoice_lines, remitted)
    ]


def _settle_whole_claim(
    invoice_lines: Sequence[InvoiceLine], open_on_line: dict[str, int], remittance: ClaimRemittance
) -> list[RemittedLineOutcome]:
    paid_left = remittance.paid
    write_off_left = sum(
        a.amount for a in remittance.claim_adjustments if a.group in WRITE_OFF_GROUPS
    )
    reasons = [f"{a.group}-{a.reason_code}" for a in remittance.claim_adjustments]
    outcomes = []
    for line in invoice_lines:
        expected = open_on_line[line.line_id]
        paid = min(paid_left, expected)
        paid_left -= paid
        written_off = min(max(0, write_off_left), expected - paid)
        write_off_left -= written_off
        outcomes.append(RemittedLineOutcome(
            line_id=line.line_id, expected=expected, paid=paid, written_off=written_off,
            transferred=expected - paid - written_off, reasons=reasons,
        ))
    return outcomes


def adjudication(
    coverage_id: str, invoice_lines: Sequence[InvoiceLine], remittance: ClaimRemittance,
    outcomes: Sequence[RemittedLineOutcome], line_ids: set[str],
) -> PriorPayer:
    """What the payer decided about ``line_ids``, as the next payer's claim states it: what it
    paid and the adjustments that explain the rest of their charges, by group and reason. Should
    the payer's figures not add up to our charges, the difference is stated as OA 23 (the impact
    of a prior payer's adjudication), so the claim still balances."""
    charged = sum(line.charge_amount for line in invoice_lines if line.line_id in line_ids)
    totals: dict[tuple[str, str], int] = {}
    if remittance.lines:
        matched = [(line, answer) for line, answer in match_lines(invoice_lines, remittance.lines)
                   if line.line_id in line_ids]
        paid = sum(answer.paid for _, answer in matched)
        for _, answer in matched:
            for adjustment in answer.adjustments:
                key = (adjustment.group, adjustment.reason_code)
                totals[key] = totals.get(key, 0) + adjustment.amount
    else:
        paid = sum(o.paid for o in outcomes if o.line_id in line_ids)
    difference = charged - paid - sum(totals.values())
    if difference:
        totals[("OA", "23")] = totals.get(("OA", "23"), 0) + difference
    return PriorPayer(
        coverage_id=coverage_id, payer_id=remittance.payer_id, paid=paid,
        adjustments=[
            AdjustedAmount(group=group, reason_code=reason, amount=amount)
            for (group, reason), amount in totals.items() if amount and group in ("CO", "OA", "PI", "PR")
        ],
        decided_on=remittance.payment_date,
    )
