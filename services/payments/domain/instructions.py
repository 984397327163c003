"""How a business's customers can pay: its payment instructions, folded from their publications
(the latest is in force; every version stays in the stream)."""

from __future__ import annotations

from services.payments.domain.events import PaymentInstructionsPublished
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent


class Instructions(FoldedFromEvents):
    """A business's payment instructions; the latest publication is in force."""

    def __init__(self, business_id: str) -> None:
        self.business_id = business_id
        self.version = 0
        self.latest: PaymentInstructionsPublished | None = None

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, PaymentInstructionsPublished):
            self.latest = event
        self.version += 1
