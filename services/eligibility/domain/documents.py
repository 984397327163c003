"""Documents that are issued once and never changed: a program determination, a Good Faith
Estimate. A new one supersedes an old one; neither is edited. Each is a one-event stream, so
issuing the same id twice fails on the stream's version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.events import DomainEvent


@dataclass
class IssuedDocument:
    document_id: str
    version: int = 0

    @classmethod
    def fold(cls, document_id: str, events: Iterable[DomainEvent]) -> IssuedDocument:
        document = cls(document_id)
        for event in events:
            document.apply(event)
        return document

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
