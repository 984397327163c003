"""Operator tool: drop a collections read model and rebuild it from the log.

    python -m services.collections.rebuild debts        # from collections' store: where dunning stands
    python -m services.collections.rebuild notices      # the notices and their delivery
    python -m services.collections.rebuild placements   # placements with agencies, collected and fees
    python -m services.collections.rebuild feeds        # customers, invoices, payments, plans from Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding the feeds folds only: it opens and settles no debt again. Notices
whose delivery was never reported stay in the queue and are delivered. Skip-trace tasks are not
rebuilt: they are opened by collections' events and closed by registration's, and are kept as
they are."""

from __future__ import annotations

from services.collections.application.feeds import UpstreamFeed
from services.collections.application.read_models import DebtBook, NoticeQueue, PlacementBook
from services.collections.consumers import TOPICS
from services.collections.domain.events import SOURCE
from services.collections.settings import CollectionsSettings
from shared.rebuild import FromKafka, FromStore, Source, rebuild_command
from shared.rebuild import rebuild as rebuild_model
from shared.settings import PlatformSettings

SOURCES: dict[str, Source] = {
    "debts": FromStore(DebtBook),
    "notices": FromStore(NoticeQueue),
    "placements": FromStore(PlacementBook),
    "feeds": FromKafka(lambda: UpstreamFeed(None), TOPICS, "feeds_consumer_group"),
}
MODELS = list(SOURCES)


async def rebuild(model: str, settings: PlatformSettings) -> int:
    return await rebuild_model(SOURCES[model], settings, SOURCE)


if __name__ == "__main__":
    rebuild_command(__doc__ or "", SOURCES, CollectionsSettings, SOURCE)
