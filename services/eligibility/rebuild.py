"""Operator tool: drop an eligibility read model and rebuild it from the log.

    python -m services.eligibility.rebuild payers            # from eligibility's store
    python -m services.eligibility.rebuild checks
    python -m services.eligibility.rebuild program-determinations
    python -m services.eligibility.rebuild estimates
    python -m services.eligibility.rebuild registration-feed # from registration.events on Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding the check ledger resets the verifier's retry bookkeeping (attempts,
next try, lease) of pending checks, which are then simply tried again; the raw X12 exchanges are
kept. Rebuilding the registration feed folds customers and coverages only: it asks no payer again."""

from __future__ import annotations

from services.eligibility.adapters.registration_events import TOPIC as REGISTRATION_TOPIC
from services.eligibility.application.read_models import (
    CheckLedger,
    Estimates,
    PayerDirectory,
    ProgramDeterminations,
)
from services.eligibility.application.registration_feed import RegistrationFeed
from services.eligibility.domain.events import SOURCE
from services.eligibility.settings import EligibilitySettings
from shared.clock import SystemClock
from shared.rebuild import FromKafka, FromStore, Source, rebuild_command
from shared.rebuild import rebuild as rebuild_model
from shared.settings import PlatformSettings

SOURCES: dict[str, Source] = {
    "payers": FromStore(PayerDirectory),
    "checks": FromStore(CheckLedger),
    "program-determinations": FromStore(ProgramDeterminations),
    "estimates": FromStore(Estimates),
    "registration-feed": FromKafka(
        lambda: RegistrationFeed(None, SystemClock()), [REGISTRATION_TOPIC],
        "registration_consumer_group",
    ),
}
MODELS = list(SOURCES)


async def rebuild(model: str, settings: PlatformSettings) -> int:
    return await rebuild_model(SOURCES[model], settings, SOURCE)


if __name__ == "__main__":
    rebuild_command(__doc__ or "", SOURCES, EligibilitySettings, SOURCE)
