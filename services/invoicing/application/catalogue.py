"""The code catalogue as charge entry uses it: which codes may be charged on a day (refusals name
the field and the code), their descriptions, and operators' imports of code files, each recorded
as a CodeSetImported event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from services.invoicing.adapters.catalogue_store import CatalogueStore, ImportSummary
from services.invoicing.adapters.code_files import CodeFileInvalid, parse_code_file
from services.invoicing.domain.bill import CodeSet
from services.invoicing.domain.codes import CodeLookup
from services.invoicing.domain.events import Code, CodeSetImported
from shared.clock import Clock
from shared.eventstore.repository import EventSourcedRepository
from shared.rules import RuleViolated


class Catalogue:
    def __init__(self, store: CatalogueStore, code_sets: EventSourcedRepository[CodeSet], clock: Clock) -> None:
        self.store = store
        self.code_sets = code_sets
        self.clock = clock

    async def refusals(
        self, conn: asyncpg.Connection, codes: Sequence[tuple[str, Code]], on: date
    ) -> list[tuple[str, str]]:
        checks = await self.store.check_many(
            [CodeLookup(code.system, code.code, on) for _, code in codes], connection=conn
        )
        return [
            (f"{field}.code", check.message)
            for (field, _), check in zip(codes, checks, strict=True) if not check.is_valid
        ]

    async def description(self, conn: asyncpg.Connection, code: Code, on: date) -> str | None:
        entry = await self.store.describe(code.system, code.code, on, connection=conn)
        return entry.description if entry else None

    async def import_file(
        self, conn: asyncpg.Connection, system: str, content: bytes, source_name: str, imported_by: str
    ) -> ImportSummary:
        try:
            codes = parse_code_file(content, system, source_name)
        except CodeFileInvalid as invalid:
            raise RuleViolated("file", str(invalid)) from None
        except ValueError as error:
            raise RuleViolated("system", str(error)) from None
        summary = await self.store.import_codes(system, codes, source_name, connection=conn)
        code_set = await self.code_sets.get_or_new(summary.system, connection=conn)
        await self.code_sets.save(summary.system, code_set, [CodeSetImported(
            system=summary.system, source_name=source_name, code_count=summary.code_count,
            sha256=summary.sha256, imported_by=imported_by, imported_at=self.clock.now(),
        )], subject=summary.system, connection=conn)
        return summary
