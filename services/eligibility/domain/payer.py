"""A payer in the directory: who pays for services, how it is asked about coverage, which codes it
expects on bills and whom to contact about them. Its state is the fold of its events."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from services.eligibility.domain.events import (
    PayerChanged,
    PayerProfile,
    PayerRegistered,
    PayerRetired,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated

# Registration refers to payers by this id in coverages, so it is chosen by people and stays short.
PAYER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass
class Payer(FoldedFromEvents):
    payer_id: str
    version: int = 0
    profile: PayerProfile | None = None
    retired: bool = False

    def apply(self, event: DomainEvent) -> None:
        match event:
            case PayerRegistered(profile=profile) | PayerChanged(profile=profile):
                self.profile = profile
            case PayerRetired():
                self.retired = True
        self.version += 1

    @staticmethod
    def register(payer_id: str, profile: PayerProfile, *, now: datetime) -> list[DomainEvent]:
        if not PAYER_ID.match(payer_id):
            raise RuleViolated(
                "payer_id", "a payer id is 2-63 lowercase letters, digits and dashes, e.g. acme-health"
            )
        return [PayerRegistered(payer_id=payer_id, profile=profile, registered_at=now)]

    def change(self, profile: PayerProfile, *, now: datetime) -> list[DomainEvent]:
        self._check_active()
        if profile == self.profile:
            return []
        return [PayerChanged(payer_id=self.payer_id, profile=profile, changed_at=now)]

    def retire(self, reason: str | None, *, now: datetime) -> list[DomainEvent]:
        if self.retired:
            return []
        return [PayerRetired(payer_id=self.payer_id, reason=reason, retired_at=now)]

    def _check_active(self) -> None:
        if self.retired:
            raise RuleViolated("payer_id", f"payer {self.payer_id} is retired")
