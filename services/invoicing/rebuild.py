"""Operator tool: drop an invoicing read model and rebuild it from the log.

    python -m services.invoicing.rebuild invoices     # from invoicing's store: invoices, statements
    python -m services.invoicing.rebuild charges      # and their deliveries
    python -m services.invoicing.rebuild crosswalks
    python -m services.invoicing.rebuild feeds        # from registration, eligibility and payments on Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding invoices keeps what was already delivered delivered (the InvoiceSent
and InvoiceDeliveryFailed events say so) and leaves the produced documents (837Ps, letters, invoice
numbers) alone. Rebuilding the feeds folds customers, coverages, payers, verifications and
estimates only: it moves no remittance on again and bills nothing."""

from __future__ import annotations

from services.invoicing.application.feeds import UpstreamFeed
from services.invoicing.application.read_models import ChargeLedger, Crosswalks, InvoiceRegister
from services.invoicing.consumers import TOPICS
from services.invoicing.domain.events import SOURCE
from services.invoicing.settings import InvoicingSettings
from shared.rebuild import FromKafka, FromStore, Source, rebuild_command
from shared.rebuild import rebuild as rebuild_model
from shared.settings import PlatformSettings

SOURCES: dict[str, Source] = {
    "invoices": FromStore(InvoiceRegister),
    "charges": FromStore(ChargeLedger),
    "crosswalks": FromStore(Crosswalks),
    "feeds": FromKafka(
        lambda: UpstreamFeed(None), TOPICS,
        "feeds_consumer_group",
    ),
}
MODELS = list(SOURCES)


async def rebuild(model: str, settings: PlatformSettings) -> int:
    return await rebuild_model(SOURCES[model], settings, SOURCE)


if __name__ == "__main__":
    rebuild_command(__doc__ or "", SOURCES, InvoicingSettings, SOURCE)
