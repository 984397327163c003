"""Small aggregates whose streams only record what happened to them: an encounter's bill, a
customer's statement, a payer's crosswalk versions."""

from __future__ import annotations

from services.invoicing.domain.events import (
    CrosswalkPublished,
    EncounterBilled,
    StatementDeliveryFailed,
    StatementIssued,
    StatementSent,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


class Bill(FoldedFromEvents):
    def __init__(self, bill_id: str) -> None:
        self.bill_id = bill_id
        self.version = 0
        self.billed: EncounterBilled | None = None

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, EncounterBilled):
            self.billed = event
        self.version += 1


class Statement(FoldedFromEvents):
    def __init__(self, statement_id: str) -> None:
        self.statement_id = statement_id
        self.version = 0
        self.issued: StatementIssued | None = None
        self.deliveries: list[StatementSent | StatementDeliveryFailed] = []

    def apply(self, event: DomainEvent) -> None:
        match event:
            case StatementIssued():
                self.issued = event
            case StatementSent() | StatementDeliveryFailed():
                self.deliveries.append(event)
        self.version += 1


class CrosswalkBook(FoldedFromEvents):
    """Every version of one payer's crosswalk; versions are numbered 1, 2, 3, ..."""

    def __init__(self, payer_id: str) -> None:
        self.payer_id = payer_id
        self.version = 0
        self.published: list[CrosswalkPublished] = []

    @property
    def next_version(self) -> int:
        return len(self.published) + 1

    def may_publish(self, version: int | None) -> int:
        if version is not None and version != self.next_version:
            raise RuleViolated(
                "version", f"the next version of {self.payer_id}'s crosswalk is {self.next_version}, not {version}"
            )
        return self.next_version

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, CrosswalkPublished):
            self.published.append(event)
        self.version += 1


class CodeSet(FoldedFromEvents):
    """The imports of one code system into the catalogue."""

    def __init__(self, system: str) -> None:
        self.system = system
        self.version = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
