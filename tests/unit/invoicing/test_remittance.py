"""What a payer's answer to a claim means for the invoice that billed it: per line, what it paid,
what the provider writes off (CO and PI adjustments, up to the shortfall) and what moves on to the
next party; and what the next payer's claim is told of it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.invoicing.domain.events import Code, InvoiceLine, RemittedLineOutcome
from services.invoicing.domain.remittance import (
    ClaimRemittance,
    RemittedAdjustment,
    RemittedLine,
    adjudication,
    match_lines,
    settle,
    settle_line,
)


def line(line_id: str, code: str, charge: int, amount: int | None = None) -> InvoiceLine:
    return InvoiceLine(
        line_id=line_id, charge_id=line_id, service_date=date(2026, 3, 2),
        code=Code(system="CPT", code=code), description=code, units=Decimal(1), unit_price=charge,
        charge_amount=charge, amount=charge if amount is None else amount,
    )


def answer(reference: str | None, code: str, charge: int, paid: int, *adjustments: tuple[str, str, int]) -> RemittedLine:
    return RemittedLine(
        line_reference=reference, procedure_code=f"HC:{code}", charge=charge, paid=paid,
        adjustments=[RemittedAdjustment(group=g, reason_code=r, amount=a) for g, r, a in adjustments],
    )


def remittance(*lines: RemittedLine, paid: int | None = None, **fields: object) -> ClaimRemittance:
    return ClaimRemittance.model_validate({
        "remittance_id": "rem_1", "claim_reference": "PAY-2026-000001", "payer_id": "acme",
        "customer_id": "cus_1", "claim_status": "1", "charge": sum(l.charge for l in lines),
        "paid": sum(l.paid for l in lines) if paid is None else paid, "lines": lines, **fields,
    })


VISIT, STREP = line("l1", "99213", 15000, amount=12500), line("l2", "87880", 4000)


def test_a_contractual_adjustment_is_written_off_and_patient_responsibility_moves_on() -> None:
    outcome = settle_line("l1", 12500, answer("l1", "99213", 15000, 10000, ("CO", "45", 2500), ("PR", "2", 2500)))
    assert (outcome.paid, outcome.written_off, outcome.transferred) == (10000, 2500, 0)
    assert outcome.reasons == ["CO-45", "PR-2"]


def test_a_denied_line_moves_on_whole_unless_the_payer_says_it_is_contractual() -> None:
    denied = settle_line("l2", 4000, answer("l2", "87880", 4000, 0, ("PR", "96", 4000)))
    contractual = settle_line("l2", 4000, answer("l2", "87880", 4000, 0, ("CO", "50", 4000)))
    assert (denied.written_off, denied.transferred) == (0, 4000)
    assert (contractual.written_off, contractual.transferred) == (4000, 0)


def test_a_payer_paying_more_than_expected_leaves_nothing_to_move_on() -> None:
    outcome = settle_line("l1", 12500, answer("l1", "99213", 15000, 14000))
    assert (outcome.paid, outcome.written_off, outcome.transferred) == (14000, 0, 0)


def test_lines_match_by_control_number_then_by_code_and_charge() -> None:
    by_reference = answer("l2", "87880", 4000, 0)
    by_code = answer(None, "99213", 15000, 10000)
    assert match_lines([VISIT, STREP], [by_reference, by_code]) == [(STREP, by_reference), (VISIT, by_code)]
    assert match_lines([VISIT], [answer(None, "99999", 15000, 0)]) == []


def test_a_claim_adjudicated_as_a_whole_is_spread_over_the_lines_in_order() -> None:
    whole = remittance(paid=12000, lines=[], charge=19000, claim_adjustments=[
        {"group": "CO", "reason_code": "45", "amount": 1000}, {"group": "PR", "reason_code": "1", "amount": 6000},
    ])
    outcomes = settle([VISIT, STREP], {"l1": 12500, "l2": 4000}, whole)
    assert [(o.paid, o.written_off, o.transferred) for o in outcomes] == [(12000, 500, 0), (0, 500, 3500)]


def test_the_next_payer_is_told_what_was_paid_and_why_not_the_rest_and_it_balances() -> None:
    answered = remittance(
        answer("l1", "99213", 15000, 10000, ("CO", "45", 2500), ("PR", "2", 2500)),
        answer("l2", "87880", 4000, 0, ("PR", "96", 4000)), payment_date="2026-03-20",
    )
    outcomes = settle([VISIT, STREP], {"l1": 12500, "l2": 4000}, answered)
    decided = adjudication("cov_1", [VISIT, STREP], answered, outcomes, {"l2"})
    assert (decided.paid, decided.decided_on) == (0, date(2026, 3, 20))
    assert [(a.group, a.reason_code, a.amount) for a in decided.adjustments] == [("PR", "96", 4000)]
    # figures that do not add up to our charges are balanced as the prior payer's impact (OA 23)
    short = remittance(answer("l2", "87880", 4000, 0, ("PR", "96", 3000)))
    unbalanced = adjudication("cov_1", [STREP], short, settle([STREP], {"l2": 4000}, short), {"l2"})
    assert [(a.group, a.reason_code, a.amount) for a in unbalanced.adjustments] == [("PR", "96", 3000), ("OA", "23", 1000)]


@given(
    expected=st.integers(0, 10**7), paid=st.integers(0, 10**7),
    adjustments=st.lists(st.tuples(st.sampled_from(["CO", "PR", "OA", "PI", "CR"]), st.integers(-10**6, 10**7)), max_size=5),
)
def test_what_was_expected_of_the_payer_is_paid_written_off_or_moved_on_never_more(
    expected: int, paid: int, adjustments: list[tuple[str, int]]
) -> None:
    outcome: RemittedLineOutcome = settle_line(
        "l1", expected, answer("l1", "99213", 10**8, paid, *((g, "1", a) for g, a in adjustments))
    )
    assert outcome.written_off >= 0 and outcome.transferred >= 0
    if paid <= expected:
        assert outcome.paid + outcome.written_off + outcome.transferred == expected
    else:
        assert outcome.written_off == outcome.transferred == 0
