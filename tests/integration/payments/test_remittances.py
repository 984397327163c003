"""Posting payers' 835s over HTTP: validated with pyx12, checked to balance, posted once, each
claim's payment allocated to the payer's invoice, and invoicing told claim by claim (ClaimAdjusted,
ClaimDenied) on Kafka."""

from __future__ import annotations

from pathlib import Path

from tests.integration.payments.conftest import RunningPayments, balance_of, unique

FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "payments" / "fixtures"
X12 = {"Content-Type": "application/edi-x12"}


def two_claims(trace: str, first: str = "PAY-2026-000001", second: str = "PAY-2026-000002") -> str:
    """A realistic 835 (tests/unit/payments/fixtures): Acme pays the first claim with CO-45 and
    PR-2 adjustments, and the second except one line it denies (PR-204, N130), plus 1.25 interest
    (PLB L6). ``trace`` makes it a new check; the claims answer invoices ``first`` and ``second``."""
    document = (FIXTURES / "835-two-claims.x12").read_text().replace("0012345678", trace)
    return document.replace("PAY-2026-000001", first).replace("PAY-2026-000002", second)


async def post(payments: RunningPayments, document: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    answer = await payments.api.post("/v1/remittances", content=document.encode(), headers=X12)
    return answer.status_code, answer.json()


async def test_a_remittance_pays_each_claim_and_tells_invoicing_what_was_denied(payments: RunningPayments) -> None:
    ada, byron = unique("cus_"), unique("cus_")
    first = await payments.issue_invoice(ada, 18150, payer_id="acme-health", number=unique("PAY-"))
    second = await payments.issue_invoice(byron, 26000, payer_id="acme-health", number=unique("PAY-"))
    trace = unique("")
    document = two_claims(trace, first.number, second.number)

    status, posted = await post(payments, document)
    assert status == 201, posted
    [remittance] = posted["items"]
    assert (remittance["payment_amount"], remittance["unmatched_amount"], remittance["payer_id"]) == (22125, 0, "acme-health")
    assert [(c["claim_reference"], c["invoice_id"], c["paid"]) for c in remittance["claims"]] == [
        (first.number, first.invoice_id, 10000), (second.number, second.invoice_id, 12000)]

    paid_first = await balance_of(payments, first.invoice_id)
    assert (paid_first["paid"], paid_first["balance"]) == (10000, 8150)
    paid_second = await balance_of(payments, second.invoice_id)
    assert (paid_second["paid"], paid_second["balance"]) == (12000, 14000)
    [payment] = (await payments.api.get(f"/v1/customers/{byron}/payments")).json()["items"]
    assert (payment["party"]["kind"], payment["party"]["payer_id"], payment["method"]) == ("insurer", "acme-health", "eft")
    assert (payment["channel"], payment["reference"], payment["received_on"]) == ("remittance", trace, "2026-12-15")

    [adjusted] = await payments.events_of(ada, "ClaimAdjusted", 1)
    assert (adjusted["claim_reference"], adjusted["charge"], adjusted["paid"]) == (first.number, 18150, 10000)
    assert adjusted["patient_responsibility"] == 2500
    assert [(a["group"], a["reason_code"], a["amount"]) for a in adjusted["lines"][0]["adjustments"]] == [
        ("CO", "45", 5000), ("PR", "2", 2000)]
    [denied] = await payments.events_of(byron, "ClaimDenied", 1)
    assert denied["denied_line_references"] == ["INV-2-L2"]
    assert denied["lines"][1]["remark_codes"] == ["N130"]
    assert (denied["paid"], denied["payer_claim_number"]) == (12000, "ACME2026110002")
    [whole] = await payments.events_of("acme-health", "RemittancePosted", 1,
                                       where=lambda e: e["remittance_id"] == remittance["remittance_id"])
    assert whole["provider_adjustments"] == [{"reason_code": "L6", "reference": first.number, "amount": -125}]

    again_status, again = await post(payments, document)
    assert again_status == 409 and again["errors"][0]["field"] == "TRN02"
    assert await payments.pool.fetchval(
        "SELECT count(*) FROM payments WHERE remittance_id = $1", remittance["remittance_id"]) == 2
    kept = await payments.api.get(f"/v1/remittances/{remittance['remittance_id']}/x12")
    assert kept.status_code == 200 and trace in kept.text


async def test_claims_we_do_not_know_are_listed_as_unmatched(payments: RunningPayments) -> None:
    known = await payments.issue_invoice(unique("cus_"), 18150, payer_id="acme-health", number=unique("PAY-"))
    status, posted = await post(payments, two_claims(unique(""), known.number, unique("PAY-")))
    assert status == 201, posted
    [remittance] = posted["items"]
    assert remittance["unmatched_amount"] == 12000
    assert [c["invoice_id"] for c in remittance["claims"]] == [known.invoice_id, None]
    assert (await balance_of(payments, known.invoice_id))["paid"] == 10000


async def test_a_document_that_breaks_the_guide_or_does_not_balance_posts_nothing(payments: RunningPayments) -> None:
    invoice = await payments.issue_invoice(unique("cus_"), 18150, payer_id="acme-health", number=unique("PAY-"))
    broken = two_claims(unique(""), invoice.number).replace("GS*HP*", "GS*HC*")
    status, problem = await post(payments, broken)
    assert status == 422, problem
    assert problem["type"].endswith("/invalid-remittance")
    assert any("GS01" in e["field"] for e in problem["errors"]), problem

    unbalanced = two_claims(unique(""), invoice.number).replace("BPR*I*221.25*", "BPR*I*231.25*")
    status, problem = await post(payments, unbalanced)
    assert status == 422, problem
    assert any("BPR02" in e["message"] for e in problem["errors"]), problem

    status, problem = await post(payments, "not an interchange")
    assert status == 422 and problem["errors"], problem
    assert (await balance_of(payments, invoice.invoice_id))["paid"] == 0
