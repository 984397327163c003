"""Operator tool: drop a payments read model and rebuild it from the log.

    python -m services.payments.rebuild ledger        # from payments' store: payments, allocations, refunds
    python -m services.payments.rebuild plans
    python -m services.payments.rebuild missed
    python -m services.payments.rebuild remittances
    python -m services.payments.rebuild instructions
    python -m services.payments.rebuild feeds         # from invoicing's events on Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding the feeds folds the invoices only: it moves no money again. What
collection agencies reported (collections' events, read by the same consumer group) became
payments in payments' store, rebuilt with the ledger, each report taken once by its payment id.
The raw 835 documents and the gateway notifications already taken are kept as they arrived."""

from __future__ import annotations

from services.payments.adapters.upstream_events import INVOICING_TOPIC
from services.payments.application.feeds import InvoicingFeed
from services.payments.application.read_models import (
    InstructionsBook,
    MissedPayments,
    PaymentLedger,
    PlanBook,
    RemittanceRegister,
)
from services.payments.domain.events import SOURCE
from services.payments.settings import PaymentsSettings
from shared.rebuild import FromKafka, FromStore, Source, rebuild_command
from shared.rebuild import rebuild as rebuild_model
from shared.settings import PlatformSettings

SOURCES: dict[str, Source] = {
    "ledger": FromStore(PaymentLedger),
    "plans": FromStore(PlanBook),
    "missed": FromStore(MissedPayments),
    "remittances": FromStore(RemittanceRegister),
    "instructions": FromStore(InstructionsBook),
    "feeds": FromKafka(lambda: InvoicingFeed(None), (INVOICING_TOPIC,), "feeds_consumer_group"),
}
MODELS = list(SOURCES)


async def rebuild(model: str, settings: PlatformSettings) -> int:
    return await rebuild_model(SOURCES[model], settings, SOURCE)


if __name__ == "__main__":
    rebuild_command(__doc__ or "", SOURCES, PaymentsSettings, SOURCE)
