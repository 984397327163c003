"""The notice delivery worker against the real PostgreSQL (a scratch schema with collections'
tables) and a real SMTP server (aiosmtpd on a local port): a notice mailed with its PDF, a bounce,
a deferral tried again with doubling waits until it fails for good, a letter queued for printing
once however often it is tried, and leases that keep two workers off one notice and give a
crashed worker's notice to another."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader

from services.collections.application.delivery import (
    Letterhead,
    NoticeDeliverer,
)
from services.collections.domain.events import (
    Channel,
    DemandIssued,
    Destination,
    Itemization,
    PaymentWay,
    Step,
    ValidationNoticeIssued,
)
from shared.db import migrate, migrations_in
from shared.delivery import DeliveryPolicy
from shared.mail import (
    DeliveryError,
    MailerUnavailable,
    MailServer,
    MessageRefused,
    OutgoingMail,
    RecipientRefused,
    SmtpMailer,
)
from tests.mailbox import GREYLISTED, REFUSED_MAILBOX, Mailbox, serving_mailbox
from tests.polling import eventually

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "collections" / "migrations"
ISSUED_AT = datetime(2026, 3, 19, 9, 30, tzinfo=UTC)
LETTERHEAD = Letterhead(
    business_name="Riverside Family Clinic", lines=("12 Mill Road", "Springfield, IL 62701")
)
ADA_ADDRESS = ["5 Analytical Way", "Springfield, IL 62702"]
BACKOFF = 30.0
POLICY = DeliveryPolicy(max_attempts=3, backoff_seconds=BACKOFF, lease_seconds=60, batch_size=10)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, SmtpMailer]]:
    with serving_mailbox() as (handler, port):
        server = MailServer(host="127.0.0.1", port=port, sender="Riverside Billing <billing@riverside.example>")
        yield handler, SmtpMailer(server)


@pytest.fixture
async def pool(schema_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A scratch schema with the platform's tables and collections' read models."""
    await migrate(schema_pool, migrations_in(MIGRATIONS, "collections"))
    yield schema_pool


@dataclass
class Outcomes:
    """NoticeOutcomes that keeps what the worker reports; ``refuse_next`` makes that many reports
    fail, as an event store that is down would."""

    sent_reports: list[dict[str, Any]] = field(default_factory=list)
    failed_reports: list[dict[str, Any]] = field(default_factory=list)
    refuse_next: int = 0

    def _accept(self) -> None:
        if self.refuse_next:
            self.refuse_next -= 1
            raise ConnectionError("the event store is unavailable")

    async def sent(self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str,
                   reference: str) -> None:
        self._accept()
        self.sent_reports.append({"notice_id": notice_id, "debt_id": debt_id, "customer_id": customer_id,
                                  "channel": channel, "recipient": recipient, "reference": reference})

    async def failed(self, notice_id: str, debt_id: str, customer_id: str, channel: str, recipient: str,
                     contact_point_id: str, *, bounced: bool, reason: str) -> None:
        self._accept()
        self.failed_reports.append({"notice_id": notice_id, "debt_id": debt_id, "customer_id": customer_id,
                                    "channel": channel, "recipient": recipient,
                                    "contact_point_id": contact_point_id, "bounced": bounced, "reason": reason})


class StubMailer:
    """Fails each send with the next of ``errors``, then accepts; can hold a send until released."""

    def __init__(self, *errors: DeliveryError, hold: bool = False) -> None:
        self.errors = list(errors)
        self.sent: list[OutgoingMail] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def send(self, message: OutgoingMail) -> str:
        self.sent.append(message)
        self.started.set()
        await self.release.wait()
        if self.errors:
            raise self.errors.pop(0)
        return f"<{uuid.uuid4().hex}@riverside.example>"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def itemization() -> Itemization:
    return Itemization(itemization_date=date(2026, 3, 1), currency="USD", original_amount=15_000,
                       payments=2_500, adjustments=0, balance=12_500)


HOW_TO_PAY = [PaymentWay(method="card", label="Pay online by card", url="https://pay.riverside.example")]


async def queue_notice(
    pool: asyncpg.Pool, *, channel: str = "email", recipient: str = "ada@example.com",
    kind: str = "demand", customer_id: str | None = None, document: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A notice recorded for delivery, as collections' read model records a DemandIssued or
    ValidationNoticeIssued: the event's data and where it goes."""
    notice_id, debt_id = unique("ntc_"), unique("debt-inv_")
    customer_id = customer_id or unique("cus_")
    contact_point_id = "email-1" if channel == "email" else "address-1"
    where = Destination(channel=Channel(channel) if channel in ("email", "letter") else Channel.EMAIL,
                        recipient=recipient, contact_point_id=contact_point_id)
    if document is None:
        common: dict[str, Any] = {
            "notice_id": notice_id, "debt_id": debt_id, "customer_id": customer_id, "template": "default",
            "destination": where, "itemization": itemization(), "how_to_pay": HOW_TO_PAY, "issued_at": ISSUED_AT,
        }
        event = (
            DemandIssued(**common, step=Step.FIRST_DEMAND, deadline=date(2026, 4, 2), days_past_due=45)
            if kind == "demand" else ValidationNoticeIssued(**common, dispute_by=date(2026, 4, 23))
        )
        document = event.to_data()
    await pool.execute(
        """INSERT INTO notice_deliveries (notice_id, debt_id, customer_id, kind, channel, recipient,
                                          contact_point_id, document, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, now())""",
        notice_id, debt_id, customer_id, kind, channel, recipient, contact_point_id, json.dumps(document),
    )
    return {"notice_id": notice_id, "debt_id": debt_id, "customer_id": customer_id, "channel": channel,
            "recipient": recipient, "contact_point_id": contact_point_id}


HOME = {"id": "address-1", "use": "home", "lines": ["5 Analytical Way"], "city": "Springfield", "region": "IL",
        "postal_code": "62702", "country": "US"}


async def register_customer(
    pool: asyncpg.Pool, name: str = "Ada Lovelace", *, addresses: list[dict[str, Any]] | None = None,
    bounced: list[str] | None = None,
) -> str:
    """A customer as collections keeps registration's CustomerRegistered."""
    customer_id = unique("cus_")
    contact = {
        "addresses": [HOME] if addresses is None else addresses,
        "phones": [], "emails": [{"id": "email-1", "use": "home", "address": "ada@example.com"}],
        "preferred_channel": "email", "consents": {"email": True, "sms": False, "phone": True, "post": True},
        "time_zone": "America/Chicago",
    }
    await pool.execute(
        """INSERT INTO customers (customer_id, name, contact, time_zone, bounced, updated_at)
           VALUES ($1, $2, $3::text::jsonb, 'America/Chicago', $4, now())""",
        customer_id, name, json.dumps(contact), bounced or [],
    )
    return customer_id


async def delivery_row(pool: asyncpg.Pool, notice_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        """SELECT status, attempts, reference, last_error, leased_until,
                  extract(epoch FROM next_attempt_at - now())::float8 AS wait_seconds
           FROM notice_deliveries WHERE notice_id = $1""",
        notice_id,
    )
    assert row is not None
    return dict(row)


async def make_due(pool: asyncpg.Pool, notice_id: str) -> None:
    """As if the wait before the next try had passed."""
    await pool.execute("UPDATE notice_deliveries SET next_attempt_at = now() WHERE notice_id = $1", notice_id)


def deliverer(pool: asyncpg.Pool, mailer: Any, outcomes: Outcomes, policy: DeliveryPolicy = POLICY,
              seen: list[str] | None = None) -> NoticeDeliverer:
    return NoticeDeliverer(
        pool=pool, mailer=mailer, outcomes=outcomes, letterhead=LETTERHEAD, policy=policy,
        on_outcome=(seen.append if seen is not None else lambda outcome: None),
    )


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# -- e-mail through the real SMTP server ----------------------------------------------------------


async def test_an_emailed_notice_arrives_with_its_pdf_and_is_reported_sent(
    pool: asyncpg.Pool, smtp: tuple[Mailbox, SmtpMailer]
) -> None:
    mailbox, mailer = smtp
    customer_id = await register_customer(pool)
    recipient = f"ada.{uuid.uuid4().hex[:8]}@example.com"
    notice = await queue_notice(pool, recipient=recipient, customer_id=customer_id)
    outcomes, seen = Outcomes(), []

    assert await deliverer(pool, mailer, outcomes, seen=seen).run_once() == 1

    [message] = await mailbox.messages_to(recipient)
    [sent] = outcomes.sent_reports
    assert sent == {**{k: notice[k] for k in ("notice_id", "debt_id", "customer_id", "channel", "recipient")},
                    "reference": message["Message-ID"]}
    assert outcomes.failed_reports == [] and seen == ["sent"]
    assert message["Subject"] == f"Demand for payment: account {notice['debt_id']}, balance USD 125.00"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Balance: USD 125.00" in body.get_content()
    assert "Please pay USD 125.00 by April 2, 2026." in body.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"notice-{notice['notice_id']}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    printed = pdf_text(attachment.get_content())
    assert "Demand for payment" in printed and "USD 125.00" in printed
    # addressed to the customer as registration knows them
    assert "Ada Lovelace" in printed and "5 Analytical Way" in printed and "Springfield, IL 62702" in printed
    assert recipient not in printed
    assert "Riverside Family Clinic" in printed
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "sent" and row["reference"] == message["Message-ID"]
    assert row["attempts"] == 1 and row["leased_until"] is None and row["last_error"] is None
    # delivered once: nothing is due any more
    assert await deliverer(pool, mailer, outcomes).run_once() == 0
    assert len(await mailbox.messages_to(recipient)) == 1


async def test_a_validation_notice_is_mailed_with_the_right_to_dispute(
    pool: asyncpg.Pool, smtp: tuple[Mailbox, SmtpMailer]
) -> None:
    mailbox, mailer = smtp
    recipient = f"ada.{uuid.uuid4().hex[:8]}@example.com"
    notice = await queue_notice(pool, recipient=recipient, kind="validation")
    outcomes = Outcomes()

    assert await deliverer(pool, mailer, outcomes).run_once() == 1

    [message] = await mailbox.messages_to(recipient)
    assert message["Subject"].startswith("Validation notice: account ")
    [attachment] = list(message.iter_attachments())
    printed = pdf_text(attachment.get_content())
    assert "Validation notice" in printed and "Dispute by" in printed and "April 23, 2026" in printed
    # no customer row yet: the notice is addressed to the recipient
    assert recipient in printed
    assert [s["notice_id"] for s in outcomes.sent_reports] == [notice["notice_id"]]


async def test_an_emailed_pdf_prints_the_billing_address_and_none_that_bounced(pool: asyncpg.Pool) -> None:
    billing = {"id": "address-2", "use": "billing", "lines": ["PO Box 12"], "city": "Springfield",
               "region": "IL", "postal_code": "62705", "country": "US"}
    bounced = {**billing, "id": "address-3", "lines": ["1 Gone Street"]}
    customer_id = await register_customer(pool, addresses=[HOME, bounced, billing], bounced=["address-3"])
    await queue_notice(pool, customer_id=customer_id)
    mailer = StubMailer()

    assert await deliverer(pool, mailer, Outcomes()).run_once() == 1

    [mail] = mailer.sent
    printed = pdf_text(mail.attachments[0].content)
    assert "PO Box 12" in printed and "Springfield, IL 62705" in printed
    assert "1 Gone Street" not in printed and "5 Analytical Way" not in printed


async def test_a_mailbox_the_server_refuses_for_good_is_a_bounce(
    pool: asyncpg.Pool, smtp: tuple[Mailbox, SmtpMailer]
) -> None:
    _, mailer = smtp
    notice = await queue_notice(pool, recipient=REFUSED_MAILBOX)
    outcomes, seen = Outcomes(), []

    assert await deliverer(pool, mailer, outcomes, seen=seen).run_once() == 1

    [failed] = outcomes.failed_reports
    assert failed["bounced"] is True and failed["contact_point_id"] == "email-1"
    assert failed["channel"] == "email" and failed["recipient"] == REFUSED_MAILBOX
    assert failed["notice_id"] == notice["notice_id"] and failed["debt_id"] == notice["debt_id"]
    assert "550" in failed["reason"] and "mailbox unavailable" in failed["reason"]
    assert outcomes.sent_reports == [] and seen == ["bounced"]
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "failed" and row["attempts"] == 1 and "550" in row["last_error"]
    assert row["reference"] is None and row["leased_until"] is None


async def test_a_deferred_mail_is_tried_again_after_the_backoff(
    pool: asyncpg.Pool, smtp: tuple[Mailbox, SmtpMailer]
) -> None:
    _, mailer = smtp
    notice = await queue_notice(pool, recipient=GREYLISTED)
    outcomes, seen = Outcomes(), []

    assert await deliverer(pool, mailer, outcomes, seen=seen).run_once() == 1

    assert outcomes.sent_reports == [] and outcomes.failed_reports == [] and seen == ["retry_scheduled"]
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "pending" and row["attempts"] == 1 and row["leased_until"] is None
    assert "451" in row["last_error"] and "greylisted" in row["last_error"]
    assert BACKOFF - 5 < row["wait_seconds"] <= BACKOFF
    assert await deliverer(pool, mailer, outcomes).run_once() == 0


# -- failures, with a mailer that fails on cue -----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "bounced"),
    [
        (RecipientRefused("ada@example.com", 550, "5.1.1 mailbox unavailable"), True),
        (MessageRefused(554, "5.7.1 message judged to be spam"), False),
    ],
)
async def test_a_permanent_refusal_fails_at_once(
    pool: asyncpg.Pool, error: DeliveryError, bounced: bool
) -> None:
    notice = await queue_notice(pool)
    mailer, outcomes = StubMailer(error), Outcomes()

    assert await deliverer(pool, mailer, outcomes).run_once() == 1

    [failed] = outcomes.failed_reports
    assert failed == {**notice, "bounced": bounced, "reason": str(error)}
    assert len(mailer.sent) == 1
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "failed" and row["last_error"] == str(error) and row["attempts"] == 1


async def test_an_unavailable_mailer_is_retried_with_doubling_waits_until_it_fails_for_good(
    pool: asyncpg.Pool,
) -> None:
    notice = await queue_notice(pool)
    down = [MailerUnavailable(f"127.0.0.1:25: cannot connect (try {n})") for n in (1, 2, 3)]
    mailer, outcomes, seen = StubMailer(*down), Outcomes(), []
    worker = deliverer(pool, mailer, outcomes, seen=seen)

    waits = []
    for attempt in (1, 2):
        assert await worker.run_once() == 1
        row = await delivery_row(pool, notice["notice_id"])
        assert row["status"] == "pending" and row["attempts"] == attempt
        assert row["last_error"] == f"127.0.0.1:25: cannot connect (try {attempt})"
        waits.append(row["wait_seconds"])
        assert await worker.run_once() == 0  # not due before the wait is over
        await make_due(pool, notice["notice_id"])

    assert BACKOFF - 5 < waits[0] <= BACKOFF
    assert 2 * BACKOFF - 5 < waits[1] <= 2 * BACKOFF
    assert outcomes.failed_reports == [] and seen == ["retry_scheduled", "retry_scheduled"]

    assert await worker.run_once() == 1  # the third try is the last
    [failed] = outcomes.failed_reports
    assert failed == {**notice, "bounced": False, "reason": "127.0.0.1:25: cannot connect (try 3)"}
    assert seen[-1] == "failed" and len(mailer.sent) == 3
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "failed" and row["attempts"] == 3


async def test_a_recipient_that_is_no_email_address_fails_without_a_try(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool, recipient="not an address")
    mailer, outcomes = StubMailer(), Outcomes()

    assert await deliverer(pool, mailer, outcomes).run_once() == 1

    [failed] = outcomes.failed_reports
    assert failed["notice_id"] == notice["notice_id"] and failed["bounced"] is False
    assert failed["reason"] == "'not an address' is not an e-mail address"
    assert mailer.sent == []
    assert (await delivery_row(pool, notice["notice_id"]))["status"] == "failed"


async def test_a_notice_that_cannot_be_rendered_fails_instead_of_coming_back_forever(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool, document={"notice_id": "ntc_broken"})
    mailer, outcomes = StubMailer(), Outcomes()

    assert await deliverer(pool, mailer, outcomes).run_once() == 1

    [failed] = outcomes.failed_reports
    assert failed["notice_id"] == notice["notice_id"] and failed["bounced"] is False
    assert failed["reason"].startswith("the notice cannot be rendered")
    assert mailer.sent == []
    assert (await delivery_row(pool, notice["notice_id"]))["status"] == "failed"


async def test_a_notice_for_a_channel_without_delivery_fails(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool, channel="sms", recipient="+15555550100")
    mailer, outcomes = StubMailer(), Outcomes()

    assert await deliverer(pool, mailer, outcomes).run_once() == 1

    [failed] = outcomes.failed_reports
    assert failed["notice_id"] == notice["notice_id"] and failed["channel"] == "sms"
    assert failed["bounced"] is False
    assert failed["reason"] == "'sms' is not a channel notices are delivered by"
    assert mailer.sent == []


# -- letters ---------------------------------------------------------------------------------------


async def test_a_letter_is_queued_for_printing_and_reported_sent_with_its_id(pool: asyncpg.Pool) -> None:
    customer_id = await register_customer(pool, name="Ada Lovelace")
    block = ["Ada Lovelace", *ADA_ADDRESS]  # the address block as dunning writes it: the name first
    notice = await queue_notice(pool, channel="letter", recipient="\n".join(block), customer_id=customer_id)
    mailer, outcomes, seen = StubMailer(), Outcomes(), []

    assert await deliverer(pool, mailer, outcomes, seen=seen).run_once() == 1

    letter = await pool.fetchrow("SELECT * FROM letters WHERE notice_id = $1", notice["notice_id"])
    assert letter is not None
    assert letter["customer_id"] == customer_id and letter["address_lines"] == block
    assert letter["queued_at"] is not None and letter["printed_at"] is None
    printed = pdf_text(letter["pdf"])
    assert "Demand for payment" in printed and "USD 125.00" in printed
    assert printed.count("Ada Lovelace") == 1 and "5 Analytical Way" in printed
    [sent] = outcomes.sent_reports
    assert sent == {**{k: notice[k] for k in ("notice_id", "debt_id", "customer_id", "channel", "recipient")},
                    "reference": letter["letter_id"]}
    assert mailer.sent == [] and seen == ["sent"]
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "sent" and row["reference"] == letter["letter_id"]


async def test_a_letter_is_queued_once_however_often_its_delivery_is_tried(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool, channel="letter", recipient="\n".join(["Grace Hopper", *ADA_ADDRESS]))
    outcomes = Outcomes(refuse_next=1)  # the first report is lost: the letter is queued, not marked
    worker = deliverer(pool, StubMailer(), outcomes, DeliveryPolicy(lease_seconds=0.3))

    assert await worker.run_once() == 1
    assert outcomes.sent_reports == []
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "pending" and row["leased_until"] is not None
    queued = await pool.fetch("SELECT letter_id, queued_at FROM letters WHERE notice_id = $1", notice["notice_id"])
    assert len(queued) == 1

    # taken up again once the lease runs out
    await eventually(worker.run_once, timeout=10, message="the notice was taken up again")

    letters = await pool.fetch("SELECT letter_id, queued_at FROM letters WHERE notice_id = $1", notice["notice_id"])
    assert [dict(letter) for letter in letters] == [dict(letter) for letter in queued]
    [sent] = outcomes.sent_reports
    assert sent["reference"] == queued[0]["letter_id"]
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "sent" and row["attempts"] == 2
    # a letter with no customer row is addressed to its recipient
    pdf = await pool.fetchval("SELECT pdf FROM letters WHERE notice_id = $1", notice["notice_id"])
    assert "Grace Hopper" in pdf_text(pdf) and "5 Analytical Way" in pdf_text(pdf)


# -- leases ----------------------------------------------------------------------------------------


async def test_a_notice_being_delivered_is_not_taken_by_another_worker(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool)
    held, outcomes = StubMailer(hold=True), Outcomes()
    first = asyncio.create_task(deliverer(pool, held, outcomes).run_once())
    try:
        await eventually(lambda: _started(held), timeout=10, message="the first worker is sending")
        row = await delivery_row(pool, notice["notice_id"])
        assert row["leased_until"] is not None and row["attempts"] == 1

        other = StubMailer()
        assert await deliverer(pool, other, outcomes).run_once() == 0
        assert other.sent == []
    finally:
        held.release.set()
        assert await first == 1
    assert [s["notice_id"] for s in outcomes.sent_reports] == [notice["notice_id"]]
    assert (await delivery_row(pool, notice["notice_id"]))["status"] == "sent"


async def test_a_crashed_workers_notice_is_taken_up_when_its_lease_runs_out(pool: asyncpg.Pool) -> None:
    notice = await queue_notice(pool)
    stuck, outcomes = StubMailer(hold=True), Outcomes()
    crashed = asyncio.create_task(
        deliverer(pool, stuck, outcomes, DeliveryPolicy(lease_seconds=2)).run_once()
    )
    await eventually(lambda: _started(stuck), timeout=10, message="the first worker is sending")
    crashed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashed

    survivor = StubMailer()
    worker = deliverer(pool, survivor, outcomes)
    assert await worker.run_once() == 0  # still leased
    await eventually(worker.run_once, timeout=10, message="the notice was taken up after its lease")

    assert [m.to for m in survivor.sent] == [notice["recipient"]]
    assert [s["notice_id"] for s in outcomes.sent_reports] == [notice["notice_id"]]
    row = await delivery_row(pool, notice["notice_id"])
    assert row["status"] == "sent" and row["attempts"] == 2


async def test_workers_share_the_due_notices_each_delivered_once(pool: asyncpg.Pool) -> None:
    notices = [await queue_notice(pool) for _ in range(7)]
    outcomes = Outcomes()
    policy = DeliveryPolicy(batch_size=4)
    mailers = [StubMailer(), StubMailer()]

    counts = await asyncio.gather(*(deliverer(pool, mailer, outcomes, policy).run_once() for mailer in mailers))

    assert sum(counts) == 7 and max(counts) <= 4
    assert sorted(s["notice_id"] for s in outcomes.sent_reports) == sorted(n["notice_id"] for n in notices)
    assert sum(len(mailer.sent) for mailer in mailers) == 7
    assert await deliverer(pool, StubMailer(), outcomes).run_once() == 0


async def test_a_notice_not_yet_due_waits_and_a_batch_takes_at_most_its_size(pool: asyncpg.Pool) -> None:
    later = await queue_notice(pool)
    await pool.execute(
        "UPDATE notice_deliveries SET next_attempt_at = now() + interval '1 hour' WHERE notice_id = $1",
        later["notice_id"],
    )
    for _ in range(3):
        await queue_notice(pool)
    worker = deliverer(pool, StubMailer(), Outcomes(), DeliveryPolicy(batch_size=2))

    assert await worker.run_once() == 2
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert (await delivery_row(pool, later["notice_id"]))["status"] == "pending"


async def test_the_worker_keeps_delivering_what_becomes_due(pool: asyncpg.Pool) -> None:
    outcomes = Outcomes()
    worker = deliverer(pool, StubMailer(), outcomes, DeliveryPolicy(poll_interval_seconds=0.05))
    running = asyncio.create_task(worker.run())
    try:
        notice = await queue_notice(pool)

        async def delivered() -> bool:
            return (await delivery_row(pool, notice["notice_id"]))["status"] == "sent"

        await eventually(delivered, timeout=10, message="the running worker delivered the notice")
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [s["notice_id"] for s in outcomes.sent_reports] == [notice["notice_id"]]


async def _started(mailer: StubMailer) -> bool:
    return mailer.started.is_set()
