"""What every aggregate shares: its state is the fold of its events, each applied in order by its
own ``apply``; a new aggregate is made from its id alone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from shared.events import DomainEvent


class FoldedFromEvents:
    """Mixin for aggregates constructed as ``cls(aggregate_id)`` that define ``apply(event)``."""

    def apply(self, event: DomainEvent) -> None:
        raise NotImplementedError

    @classmethod
    def fold(cls, aggregate_id: str, events: Iterable[DomainEvent]) -> Self:
        aggregate = cls(aggregate_id)  # type: ignore[call-arg]
        for event in events:
            aggregate.apply(event)
        return aggregate
