"""Documents that are issued once and never changed: a program determination, a Good Faith
Estimate. A new one supersedes an old one; neither is edited. Each is a one-event stream, so
issuing the same id twice fails on the stream's version."""

from __future__ import annotations

from dataclasses import dataclass

from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent


@dataclass
class IssuedDocument(FoldedFromEvents):
    document_id: str
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
