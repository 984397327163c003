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

from pydantic import BaseModel, ConfigDict

from services.invoicing.domain.events import InvoiceLine, RemittedLineOutcome

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
