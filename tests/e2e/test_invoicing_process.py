"""Registration, eligibility (with the payer simulator), invoicing and payments run as real
processes, as `make run` runs them, with only HTTP and Kafka between them and the test: a customer
registered at the front desk is verified with their insurer, their services are charged and billed,
the insurer gets an invoice with a pyx12-valid 837P (submitted to its clearinghouse, which
acknowledges it with a 999) and the customer an invoice for the copay. The insurer pays the visit
and denies the strep test in an 835 (written by the simulator for the claim it received); posted
to payments, it pays the insurer's invoice, and the denial reaches invoicing as ClaimDenied, which
bills the remainder to the customer on a new invoice that payments then holds open."""

from __future__ import annotations

import io
import socket
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from services.invoicing.adapters.claim_validation import validate_837p
from services.invoicing.adapters.x12_837 import read_claim_summary
from tests.e2e.conftest import TOKEN, ServiceProcess
from tests.e2e.test_eligibility_process import verified_check
from tests.polling import eventually

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CODES = Path(__file__).resolve().parents[2] / "services" / "invoicing" / "codes"
CPT_FILE = (  # stands in for the operator's licensed CPT file: code numbers, our own descriptions
    b"code,description,valid_from,valid_to\n"
    b"99213,Office visit (operator's licensed text),2020-01-01,\n"
    b"87880,Rapid strep test (operator's licensed text),2020-01-01,\n"
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def bill_when_verified(invoicing: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    """Billing runs until invoicing has heard of the verification (until then the encounter waits)."""

    async def billed() -> dict[str, Any] | None:
        answer = await invoicing.post("/v1/billing-runs", json={"customer_id": customer_id})
        assert answer.status_code == 200, answer.text
        return next((e for e in answer.json()["encounters"] if e["bill_id"]), None)

    return await eventually(billed, timeout=60, interval=0.5, message="the encounter was billed")


async def test_register_verify_charge_bill_and_move_a_partial_denial_to_the_customer(
    registration_process: ServiceProcess, eligibility_process: ServiceProcess,
    clearinghouse_process: ServiceProcess, invoicing_process: ServiceProcess, payments_process: ServiceProcess,
    kafka_bootstrap: str,
) -> None:
    inbox, smtp_port = Inbox(), free_port()
    mail = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    mail.start()
    try:
        clearinghouse_process.start()
        eligibility_process.start(ELIGIBILITY_INQUIRY_SERVICE_TYPES='["30", "98"]')
        registration_process.start()
        invoicing_process.start(INVOICING_SMTP_PORT=str(smtp_port))
        payments_process.start()
        await _scenario(registration_process, eligibility_process, clearinghouse_process, invoicing_process,
                        payments_process, inbox)
    finally:
        mail.stop()


async def _scenario(
    registration_process: ServiceProcess, eligibility_process: ServiceProcess,
    clearinghouse_process: ServiceProcess, invoicing_process: ServiceProcess, payments_process: ServiceProcess,
    inbox: Inbox,
) -> None:
    today = date.today()
    member_id, payer_id = f"INV{uuid.uuid4().hex[:8]}", f"acme-{uuid.uuid4().hex[:8]}"
    family, address = f"Hopper{uuid.uuid4().hex[:6]}", f"grace-{uuid.uuid4().hex[:6]}@example.com"
    async with (
        httpx.AsyncClient(base_url=clearinghouse_process.url) as clearinghouse,
        httpx.AsyncClient(base_url=eligibility_process.url, headers=AUTH) as eligibility,
        httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as registration,
        httpx.AsyncClient(base_url=invoicing_process.url, headers=AUTH, timeout=30) as invoicing,
        httpx.AsyncClient(base_url=payments_process.url, headers=AUTH, timeout=30) as payments,
    ):
        # the payer knows the member: deductible met, a $25 office-visit copay, 20% otherwise
        (await clearinghouse.put(f"/members/{member_id}", json={
            "member_id": member_id, "given": "Grace", "family": family, "dob": "1976-12-09",
            "plan_name": "Gold PPO", "status": "active", "coverage_from": "2026-01-01",
            "benefits": [
                {"info_code": "C", "service_types": ["30"], "time_period": "23", "amount": "1500.00", "in_network": True},
                {"info_code": "C", "service_types": ["30"], "time_period": "29", "amount": "0.00", "in_network": True},
                {"info_code": "A", "service_types": ["30"], "percent": "0.2", "in_network": True},
                {"info_code": "B", "service_types": ["98"], "time_period": "27", "amount": "25.00", "in_network": True},
            ],
        })).raise_for_status()
        assert (await eligibility.post("/v1/payers", json={
            "payer_id": payer_id, "name": "Acme Health", "kind": "insurer",
            "connection": {"method": "x12", "endpoint": f"{clearinghouse_process.url}/x12/270",
                           "payer_identifier": "60054", "receiver_id": "CLEARINGHOUSE",
                           "claims_endpoint": f"{clearinghouse_process.url}/x12/837"},
            "code_system": "HCPCS", "billing_contact": {"name": "Acme Claims"},
        })).status_code == 201
        for system, content in (("CPT", CPT_FILE), ("ICD-10-CM", (CODES / "icd-10-cm.csv").read_bytes())):
            loaded = await invoicing.put(f"/v1/code-systems/{system}/codes", params={"source_name": system},
                                         content=content, headers={"Content-Type": "text/csv"})
            assert loaded.status_code == 200, loaded.text

        # the front desk registers the customer and their insurance
        customer = await registration.post("/v1/customers", json={
            "kind": "person", "person_name": {"given": "Grace", "family": family}, "date_of_birth": "1976-12-09",
            "contact": {
                "addresses": [{"lines": ["1 Compiler Lane"], "city": "Arlington", "region": "VA",
                               "postal_code": "22201", "country": "US"}],
                "emails": [{"address": address}], "preferred_channel": "email",
                "consents": {"email": True}, "time_zone": "America/New_York",
            },
        })
        assert customer.status_code == 201, customer.text
        customer_id = customer.json()["customer_id"]
        coverage = await registration.post(f"/v1/customers/{customer_id}/coverages", json={"terms": {
            "payer_id": payer_id, "payer_kind": "insurer", "member_id": member_id, "priority": "primary",
            "subscriber": {"relationship": "self"}, "effective_from": "2026-01-01",
        }})
        assert coverage.status_code == 201, coverage.text
        await verified_check(eligibility, coverage.json()["coverage_id"])

        # the visit: an office visit and a strep test, charged by the practice
        charges = []
        for code, price in (("99213", 15000), ("87880", 4000)):
            recorded = await invoicing.post("/v1/charges", json={
                "customer_id": customer_id, "service_date": today.isoformat(),
                "procedure": {"system": "CPT", "code": code}, "diagnoses": [{"system": "ICD-10-CM", "code": "J02.9"}],
                "units": "1", "unit_price": price, "service_type": "98",
                "rendering_provider": {"given_name": "Grace", "family_name": "Hopper", "npi": "1245319599"},
            })
            assert recorded.status_code == 201, recorded.text
            charges.append(recorded.json()["charge"]["charge_id"])

        billed = await bill_when_verified(invoicing, customer_id)
        assert billed["held"] == [] and len(billed["issued"]) == 2
        invoices = {i["party_kind"]: i for i in (await invoicing.get(
            "/v1/invoices", params={"customer_id": customer_id})).json()["items"]}
        insurer, copay = invoices["payer"], invoices["customer"]
        assert (insurer["total"], copay["total"]) == (16500, 2500)
        copay_lines = (await invoicing.get(f"/v1/invoices/{copay['invoice_id']}")).json()["lines"]
        assert sum(line["components"]["copay"] for line in copay_lines) == 2500

        # the insurer's 837P: valid under pyx12, numbered as the invoice, every line's charge
        claim = await invoicing.get(f"/v1/invoices/{insurer['invoice_id']}/claim")
        assert claim.status_code == 200 and validate_837p(claim.text) == []
        summary = read_claim_summary(claim.text)
        assert summary.claim_reference == insurer["number"] and summary.total_charge == 19000
        assert [line.line_reference for line in summary.lines] == charges

        # and it went to the insurer's clearinghouse, which acknowledged it with a 999
        async def submitted() -> list[Any] | None:
            return (await invoicing.get(f"/v1/invoices/{insurer['invoice_id']}")).json()["deliveries"] or None

        [sent] = await eventually(submitted, timeout=30, message="the claim was submitted")
        assert (sent["channel"], sent["reference"][:4]) == ("x12", "999 "), sent
        assert insurer["number"] in (await clearinghouse.get("/claims")).json()

        # the copay invoice reaches the customer by e-mail, as a PDF
        async def mailed() -> Any:
            return next((m for m in inbox.messages if address in m.rcpt_tos), None)

        envelope = await eventually(mailed, timeout=30, message="the copay invoice was e-mailed")
        assert copay["number"].encode() in envelope.content
        pdf = (await invoicing.get(f"/v1/invoices/{copay['invoice_id']}/pdf")).content
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert copay["number"] in text and "25.00" in text

        # the insurer pays the visit (less a contractual adjustment and the copay) and denies the
        # strep test: its 835, as the clearinghouse hands it over, is posted to payments
        async def known_to_payments() -> bool:
            return (await payments.get(f"/v1/invoices/{insurer['invoice_id']}/balance")).status_code == 200

        await eventually(known_to_payments, timeout=30, message="payments heard of the insurer's invoice")
        office, strep = charges
        remittance = await clearinghouse.post("/x12/835", json={
            "trace_number": f"EFT{uuid.uuid4().hex[:12]}", "payment_date": today.isoformat(),
            "claims": [{"claim_reference": insurer["number"], "lines": [
                {"line_reference": office, "paid": 10000,
                 "adjustments": [{"group": "CO", "reason_code": "45", "amount": 2500},
                                 {"group": "PR", "reason_code": "3", "amount": 2500}]},
                {"line_reference": strep, "paid": 0,
                 "adjustments": [{"group": "PR", "reason_code": "96", "amount": 4000}]},
            ]}],
        })
        assert remittance.status_code == 200, remittance.text
        posted = await payments.post("/v1/remittances", content=remittance.content,
                                     headers={"Content-Type": "application/edi-x12"})
        assert posted.status_code == 201, posted.text
        [advice] = posted.json()["items"]
        assert (advice["payment_amount"], advice["unmatched_amount"]) == (10000, 0)
        paid = (await payments.get(f"/v1/invoices/{insurer['invoice_id']}/balance")).json()
        assert paid["paid"] == 10000

        async def remainder() -> dict[str, Any] | None:
            items = (await invoicing.get("/v1/invoices", params={"customer_id": customer_id})).json()["items"]
            return next((i for i in items if i["transferred_from"] == insurer["invoice_id"]), None)

        moved = await eventually(remainder, timeout=30, message="the denied remainder was billed")
        assert moved["party_kind"] == "customer" and moved["total"] == 4000 and moved["number"] != copay["number"]
        original = (await invoicing.get(f"/v1/invoices/{insurer['invoice_id']}")).json()
        [applied] = original["remittances"]
        assert (applied["paid"], applied["written_off"], applied["transferred"]) == (10000, 2500, 4000)
        assert applied["transferred_to"] == moved["invoice_id"] and original["open_amount"] == 0

        # payments hears both: the insurer's invoice is settled, the customer owes the copay and the strep test
        async def settled() -> dict[str, Any] | None:
            balance = (await payments.get(f"/v1/customers/{customer_id}/balance")).json()
            return balance if balance["balances"] and balance["balances"][0]["owed"] == 6500 else None

        balance = await eventually(settled, timeout=30, message="payments holds the remainder open")
        standing = {i["invoice_id"]: (i["balance"], i["standing"]) for i in balance["invoices"]}
        assert standing[insurer["invoice_id"]] == (0, "paid")
        assert standing[moved["invoice_id"]] == (4000, "open")
