"""Registration, invoicing, payments and collections run as real processes, as `make run` runs
them, with only HTTP and Kafka between them and the test, and a collection agency on the other
side of the broker with nothing but its own credentials: a self-pay customer billed some $125.00
(each run its own amount, up to $224.99) misses the due date; payments reports it missed and
collections opens a debt, which dunning runs (driven over HTTP at 09:00 in the customer's Chicago)
work through the clinic's policy: a reminder by e-mail, a first and a second demand and a final
notice by letter, the validation notice after the final notice's silence, and after its dispute
period the escalation to the agency. The reference agency consumer (examples/agency) reads the
placement on the agency's topic, acknowledges it and reports $50.00 collected; payments records
the agency's payment, less its 25 % fee, and the account falls by $50.00 in payments and in
collections alike."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import secrets
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from deploy.agencies import AgencyAccess, provision_agency, revoke_agency
from tests.e2e.conftest import ROOT, TOKEN, ServiceProcess, free_port
from tests.e2e.test_invoicing_process import CODES, CPT_FILE, Inbox
from tests.polling import eventually

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLACEMENT = "billing.collections.agency.v1.AccountEscalated"
POLICY = ROOT / "deploy" / "collections.toml"
AGENCY_CONSUMER = ROOT / "examples" / "agency" / "agency_consumer.py"
COLLECTIONS_SENDER = "collections@clinic.example"  # COLLECTIONS_SMTP_SENDER's default


def policy_file(path: Path, agency_id: str, balance: int) -> Path:
    """The clinic's policy as deploy/collections.toml has it, with the test's agency taking debts of
    exactly ``balance``. Collections reads every customer invoice and missed payment on the shared
    topics, so it also works the debts of other runs on the same broker (of this test, too, with the
    same dates); they must not be placed with this run's agency, nor this run's debt with theirs."""
    business = POLICY.read_text().split("[[agencies]]")[0]
    path.write_text(
        f"{business}\n[[agencies]]\nid = \"{agency_id}\"\nname = \"E2E Recovery Partners\"\nfee_rate_bp = 2500\n\n"
        f"[[assignment]]\nagency = \"{agency_id}\"\nmin_balance = {balance}\nmax_balance = {balance}\n"
    )
    return path


def at_nine_in_chicago(day: date) -> str:
    """15:00 UTC: 09:00 (CST) or 10:00 (CDT) in Chicago, within the policy's contact hours."""
    return datetime.combine(day, time(15, 0), tzinfo=UTC).isoformat()


async def test_a_missed_invoice_is_dunned_escalated_and_partly_collected_by_the_agency(
    registration_process: ServiceProcess, invoicing_process: ServiceProcess, payments_process: ServiceProcess,
    collections_process: ServiceProcess, kafka_bootstrap: str, tmp_path: Path,
) -> None:
    agency_id = f"e2e-{uuid.uuid4().hex[:8]}"
    total = 12_500 + secrets.randbelow(10_000)  # $125.00 to $224.99, this run's own amount: see policy_file
    agency_token = f"agency-token-{uuid.uuid4().hex}"
    inbox, smtp_port = Inbox(), free_port()
    mail = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    mail.start()
    try:
        tokens = {
            TOKEN: {"system": "e2e", "scopes": ["collections:read", "collections:write", "collections:operate"]},
            agency_token: {"system": f"agency-{agency_id}", "scopes": [f"agency:{agency_id}"]},
        }
        collections_environment = {
            "COLLECTIONS_POLICY_FILE": str(policy_file(tmp_path / "collections.toml", agency_id, total)),
            "COLLECTIONS_API_TOKENS": json.dumps(tokens),
            "COLLECTIONS_SMTP_PORT": str(smtp_port),
        }
        # the agency gets its credentials while the services start
        access, *_ = await asyncio.gather(
            provision_agency(agency_id, uuid.uuid4().hex, bootstrap=kafka_bootstrap),
            asyncio.to_thread(registration_process.start),
            asyncio.to_thread(invoicing_process.start, INVOICING_SMTP_PORT=str(smtp_port)),
            asyncio.to_thread(payments_process.start),
            asyncio.to_thread(collections_process.start, **collections_environment),
        )
        await _scenario(registration_process, invoicing_process, payments_process, collections_process,
                        inbox, access, agency_token, total)
    finally:
        mail.stop()
        await revoke_agency(agency_id, bootstrap=kafka_bootstrap, delete_topic=True)


async def _scenario(
    registration_process: ServiceProcess, invoicing_process: ServiceProcess, payments_process: ServiceProcess,
    collections_process: ServiceProcess, inbox: Inbox, access: AgencyAccess, agency_token: str, total: int,
) -> None:
    left = total - 5000  # what the customer still owes once the agency collected $50.00
    today = date.today()
    family, address = f"Noether{uuid.uuid4().hex[:6]}", f"emmy-{uuid.uuid4().hex[:6]}@example.com"
    async with (
        httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as registration,
        httpx.AsyncClient(base_url=invoicing_process.url, headers=AUTH, timeout=30) as invoicing,
        httpx.AsyncClient(base_url=payments_process.url, headers=AUTH, timeout=30) as payments,
        httpx.AsyncClient(base_url=collections_process.url, headers=AUTH, timeout=30) as collections,
    ):
        for system, content in (("CPT", CPT_FILE), ("ICD-10-CM", (CODES / "icd-10-cm.csv").read_bytes())):
            loaded = await invoicing.put(f"/v1/code-systems/{system}/codes", params={"source_name": system},
                                         content=content, headers={"Content-Type": "text/csv"})
            assert loaded.status_code == 200, loaded.text

        # a self-pay customer: no coverage on file, reachable by e-mail and by post, in Chicago
        customer = await registration.post("/v1/customers", json={
            "kind": "person", "person_name": {"given": "Emmy", "family": family}, "date_of_birth": "1982-03-23",
            "contact": {
                "addresses": [{"lines": ["7 Invariant Way"], "city": "Chicago", "region": "IL",
                               "postal_code": "60637", "country": "US"}],
                "emails": [{"address": address}], "preferred_channel": "email",
                "consents": {"email": True}, "time_zone": "America/Chicago",
            },
        })
        assert customer.status_code == 201, customer.text
        customer_id = customer.json()["customer_id"]

        # an office visit, charged once invoicing has heard of the customer, billed to the customer alone
        async def charged() -> dict[str, Any] | None:
            recorded = await invoicing.post("/v1/charges", json={
                "customer_id": customer_id, "service_date": today.isoformat(),
                "procedure": {"system": "CPT", "code": "99213"},
                "diagnoses": [{"system": "ICD-10-CM", "code": "J02.9"}],
                "units": "1", "unit_price": total,
            })
            if recorded.status_code == 422 and "customer_id" in recorded.text:
                return None  # registration's event is still on its way
            assert recorded.status_code == 201, recorded.text
            return recorded.json()

        await eventually(charged, timeout=30, interval=0.2, message="invoicing took the charge")
        billed = await invoicing.post("/v1/billing-runs", json={"customer_id": customer_id})
        assert billed.status_code == 200, billed.text
        [encounter] = billed.json()["encounters"]
        assert encounter["held"] == [] and len(encounter["issued"]) == 1, encounter
        [invoice] = (await invoicing.get("/v1/invoices", params={"customer_id": customer_id})).json()["items"]
        assert (invoice["party_kind"], invoice["status"], invoice["total"]) == ("customer", "issued", total), invoice
        invoice_id, number = invoice["invoice_id"], invoice["number"]
        due = date.fromisoformat(invoice["due_date"])

        # payments and collections hear of the invoice; the day after it fell due, payments finds it missed
        async def known_to_payments() -> bool:
            return (await payments.get(f"/v1/invoices/{invoice_id}/balance")).status_code == 200

        async def known_to_collections() -> bool:
            standing = (await collections.get(f"/v1/customers/{customer_id}/standing")).json()
            return any(line["invoice_id"] == invoice_id for line in standing["invoices"])

        await eventually(known_to_payments, timeout=30, interval=0.2, message="payments heard of the invoice")
        await eventually(known_to_collections, timeout=30, interval=0.2, message="collections heard of the invoice")
        missed = await payments.post("/v1/missed-payment-runs", json={"as_of": (due + timedelta(days=1)).isoformat()})
        assert missed.status_code == 200, missed.text
        assert missed.json()["invoices_missed"] >= 1, missed.json()  # others' too, on a shared broker

        async def debt_opened() -> dict[str, Any] | None:
            items = (await collections.get("/v1/debts", params={"customer_id": customer_id})).json()["items"]
            return items[0] if items else None

        debt = await eventually(debt_opened, timeout=30, interval=0.2, message="collections opened the debt")
        debt_id = debt["debt_id"]
        assert (debt["invoice_id"], debt["invoice_number"], debt["status"]) == (invoice_id, number, "dunning")
        assert debt["itemization"]["balance"] == total and debt["notices"] == []

        async def delivered() -> dict[str, Any] | None:
            answer = await collections.get(f"/v1/debts/{debt_id}")
            assert answer.status_code == 200, answer.text
            debt = answer.json()
            return debt if all(n["status"] == "sent" for n in debt["notices"]) else None

        async def dunning_run(days_past_due: int, outcome: str) -> dict[str, Any]:
            """A run at 09:00 in Chicago on the day; the debt once its notices went out. (The delivery
            worker records each NoticeSent on the debt's stream: a run racing it would lose the append
            and leave the debt to the next run, so each run waits for the last one's notices.)"""
            ran = await collections.post("/v1/dunning-runs", json={
                "at": at_nine_in_chicago(due + timedelta(days=days_past_due)),
            })
            assert ran.status_code == 200, ran.text
            # at least ours: on a shared broker, debts of other runs' invoices may be reviewed too
            assert ran.json()["outcomes"].get(outcome, 0) >= 1, (days_past_due, ran.json())
            return await eventually(delivered, timeout=30, interval=0.1, message="the debt's notices were sent")

        # the clinic's policy, step by step: each notice once its day came and the last one's deadline passed
        debt = await dunning_run(1, "DemandIssued")
        [reminder] = debt["notices"]
        assert (reminder["kind"], reminder["step"], reminder["channel"], reminder["recipient"]) == (
            "demand", "reminder", "email", address)
        assert reminder["deadline"] == (due + timedelta(days=15)).isoformat()

        async def mailed() -> Any:  # invoicing e-mailed the invoice to the same address, from billing@
            return next((m for m in inbox.messages if address in m.rcpt_tos and m.mail_from == COLLECTIONS_SENDER),
                        None)

        envelope = await eventually(mailed, timeout=30, interval=0.2, message="the reminder was e-mailed")
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert debt_id in message["Subject"] and f"{total // 100}.{total % 100:02d}" in message["Subject"], (
            message["Subject"])
        [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
        assert pdf.get_content().startswith(b"%PDF")

        debt = await dunning_run(16, "DemandIssued")
        assert [n["step"] for n in debt["notices"]] == ["reminder", "first_demand"]
        assert debt["notices"][-1]["channel"] == "letter" and "7 Invariant Way" in debt["notices"][-1]["recipient"]
        debt = await dunning_run(31, "DemandIssued")
        assert [n["step"] for n in debt["notices"]] == ["reminder", "first_demand", "second_demand"]
        debt = await dunning_run(46, "DemandIssued")
        assert [n["step"] for n in debt["notices"]] == ["reminder", "first_demand", "second_demand", "final_notice"]
        assert debt["notices"][-1]["deadline"] == (due + timedelta(days=76)).isoformat()
        assert debt["last_step"] == "final_notice" and debt["status"] == "dunning"

        # 30 days of silence after the final notice: first the validation notice and its dispute period
        debt = await dunning_run(76, "ValidationNoticeIssued")
        validation = debt["notices"][-1]
        assert (len(debt["notices"]), validation["kind"], validation["channel"]) == (5, "validation", "letter")
        assert validation["deadline"] == (due + timedelta(days=106)).isoformat()
        assert debt["status"] == "dunning"

        # the day after the dispute period: the debt is placed with the agency
        debt = await dunning_run(107, "AccountEscalated")
        assert debt["status"] == "escalated" and len(debt["notices"]) == 5
        placement = debt["placement"]
        assert (placement["agency_id"], placement["account_reference"], placement["placed_balance"]) == (
            access.username.removeprefix("agency-"), number, total)
        assert placement["status"] == "placed"

        # the agency, with its own credentials on its own listener, reads, acknowledges and reports $50.00
        agency = await asyncio.create_subprocess_exec(
            sys.executable, str(AGENCY_CONSUMER),
            "--bootstrap", access.bootstrap, "--username", access.username, "--password", access.password,
            "--topic", access.topic, "--group", f"{access.group_prefix}e2e-{uuid.uuid4().hex[:8]}",
            "--api", collections_process.url, "--token", agency_token,
            "--pay", "5000", "--max-messages", "1", "--timeout", "60",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(agency.communicate(), timeout=90)
        assert agency.returncode == 0, err.decode()
        lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        assert len(lines) == 2, lines  # the placement read, and the answer to the payment reported
        read, reported = lines[0], lines[1]["reported"]
        assert (read["type"], read["key"]) == (PLACEMENT, placement["placement_id"])
        assert read["data"]["placement_id"] == placement["placement_id"]
        assert read["data"]["account_reference"] == number
        assert read["data"]["itemization"]["balance"] == total and read["data"]["fee_rate_bp"] == 2500
        assert read["data"]["debtor"]["time_zone"] == "America/Chicago"
        assert "J02.9" not in json.dumps(read) and "99213" not in json.dumps(read)  # no codes, no care
        assert (reported["placement_id"], reported["amount"], reported["fee"], reported["net"]) == (
            placement["placement_id"], 5000, 1250, 3750)

        # collections records the acknowledgement and what the agency collected
        [placed] = (await collections.get("/v1/placements", params={"agency_id": placement["agency_id"]})).json()[
            "items"]
        assert (placed["status"], placed["collected"], placed["fees"]) == ("acknowledged", 5000, 1250), placed
        assert placed["agency_reference"] == f"{placement['agency_id']}-{placement['placement_id']}"

        # payments records the agency's payment: the account falls by what the agency collected
        async def owed_fell() -> dict[str, Any] | None:
            balance = (await payments.get(f"/v1/customers/{customer_id}/balance")).json()
            return balance if balance["balances"] and balance["balances"][0]["owed"] == left else None

        await eventually(owed_fell, timeout=30, interval=0.2, message="payments applied the agency's payment")
        [payment] = (await payments.get(f"/v1/customers/{customer_id}/payments")).json()["items"]
        assert (payment["party"]["kind"], payment["party"]["agency_id"]) == (
            "collection_agency", placement["agency_id"])
        assert (payment["amount"], payment["fee"], payment["channel"]) == (5000, 1250, "agency"), payment
        assert [(a["invoice_id"], a["amount"]) for a in payment["allocations"]] == [(invoice_id, 5000)]

        # and collections hears payments' allocation: the customer's standing shows what is left
        as_of = (due + timedelta(days=107)).isoformat()

        async def standing_fell() -> dict[str, Any] | None:
            standing = (await collections.get(f"/v1/customers/{customer_id}/standing",
                                              params={"as_of": as_of})).json()
            line = next((i for i in standing["invoices"] if i["invoice_id"] == invoice_id), None)
            return line if line is not None and line["balance"] == left else None

        line = await eventually(standing_fell, timeout=30, interval=0.2, message="collections saw the allocation")
        assert (line["payments"], line["debt_status"], line["bucket"]) == (5000, "escalated", "91-120")
        debt = (await collections.get(f"/v1/debts/{debt_id}")).json()
        assert debt["status"] == "escalated" and debt["placement"]["collected"] == 5000
