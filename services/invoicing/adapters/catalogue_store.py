"""The code catalogue in PostgreSQL (migrations/002_code_catalogue.sql): importing a code system's
codes, and the lookups charge entry and billing make against them.

An import replaces the system's codes with the imported ones: codes missing from the import are
removed, new ones added, changed ones updated, all in one transaction, and the import is recorded
(also when it changed nothing, so importing the same file twice is harmless and visible). The
imported codes are the whole truth for their system: a code file keeps the periods of retired
codes that past charges still need. The alternative, keeping whatever an import does not mention,
would leave a code dropped from a newer file valid for ever.

Whether a code may be billed on a day is decided by the domain (``check_code``); the store only
fetches the entries of the codes asked about, all of them in one query for a batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg
from pydantic import Field

from services.invoicing.domain.codes import (
    CatalogueCode,
    CodeCheck,
    CodeLookup,
    CodeSystem,
    MalformedCode,
    check_code,
    overlapping_entries,
)
from services.invoicing.domain.events import Value
from shared.clock import Clock, SystemClock
from shared.db import connection_from
from shared.rules import RuleViolated

# Imports of one system wait for each other; imports of different systems do not.
_LOCK_SYSTEM = "SELECT pg_advisory_xact_lock(hashtext('invoicing.catalogue'), hashtext($1))"

_ENTRIES_OF_SYSTEM = """
SELECT code, valid_from, description, valid_to FROM catalogue_codes WHERE system = $1
"""

_REMOVE = """
DELETE FROM catalogue_codes AS c
USING unnest($2::text[], $3::date[]) AS gone(code, valid_from)
WHERE c.system = $1 AND c.code = gone.code AND c.valid_from = gone.valid_from
"""

_UPDATE = """
UPDATE catalogue_codes AS c SET description = new.description, valid_to = new.valid_to
FROM unnest($2::text[], $3::date[], $4::text[], $5::date[])
     AS new(code, valid_from, description, valid_to)
WHERE c.system = $1 AND c.code = new.code AND c.valid_from = new.valid_from
"""

_ADD = """
INSERT INTO catalogue_codes (system, code, valid_from, description, valid_to)
SELECT $1, new.code, new.valid_from, new.description, new.valid_to
FROM unnest($2::text[], $3::date[], $4::text[], $5::date[])
     AS new(code, valid_from, description, valid_to)
"""

_RECORD_IMPORT = """
INSERT INTO catalogue_imports (system, source_name, code_count, added, changed, removed, sha256,
                               imported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

_ENTRIES_OF_CODE = """
SELECT system, code, description, valid_from, valid_to
FROM catalogue_codes WHERE system = $1 AND code = $2
"""

_ENTRIES_OF_CODES = """
SELECT c.system, c.code, c.description, c.valid_from, c.valid_to
FROM catalogue_codes AS c
JOIN unnest($1::text[], $2::text[]) AS wanted(system, code)
  ON c.system = wanted.system AND c.code = wanted.code
"""

_SYSTEMS = """
WITH counts AS (
    SELECT system, count(DISTINCT code) AS codes, count(*) AS entries
    FROM catalogue_codes GROUP BY system
), last_imports AS (
    SELECT DISTINCT ON (system) system, source_name, code_count, added, changed, removed, sha256,
           imported_at
    FROM catalogue_imports ORDER BY system, imported_at DESC, import_id DESC
)
SELECT system, coalesce(counts.codes, 0) AS codes, coalesce(counts.entries, 0) AS entries,
       last_imports.source_name, last_imports.code_count, last_imports.added,
       last_imports.changed, last_imports.removed, last_imports.sha256, last_imports.imported_at
FROM counts FULL JOIN last_imports USING (system)
ORDER BY system
"""


class ImportSummary(Value):
    """What one import did to a system's catalogue."""

    system: str
    source_name: str = Field(description="Where the codes came from, e.g. the file's name")
    code_count: int = Field(description="Entries imported: one per code and period")
    added: int
    changed: int = Field(description="Entries whose description or valid_to changed")
    removed: int = Field(description="Entries no longer in the catalogue")
    sha256: str = Field(description="Of the imported codes in canonical form, not of the file")
    imported_at: datetime

    @property
    def unchanged(self) -> int:
        return self.code_count - self.added - self.changed


class SystemSummary(Value):
    """A code system as the catalogue holds it."""

    system: str
    codes: int = Field(description="Distinct codes")
    entries: int = Field(description="Codes and their periods: a reinstated code counts twice")
    last_import: ImportSummary | None


class CatalogueStore:
    """The code catalogue: imports and lookups. Every method joins the caller's transaction when
    given its ``connection``."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock | None = None) -> None:
        self.pool = pool
        self.clock = clock or SystemClock()

    async def import_codes(
        self,
        system: str,
        codes: Sequence[CatalogueCode],
        source_name: str,
        connection: asyncpg.Connection | None = None,
    ) -> ImportSummary:
        """Replace ``system``'s codes with ``codes``, in one transaction, and record the import.

        Refused (RuleViolated) when a code is of another system, two entries of a code overlap,
        or there are no codes at all: an empty file would wipe the system's catalogue."""
        system = _checked_system(system)
        _check_importable(system, codes)
        imported = {(entry.code, entry.valid_from): entry for entry in codes}
        async with connection_from(self.pool, connection) as conn, conn.transaction():
            await conn.execute(_LOCK_SYSTEM, system)
            held = {
                (row["code"], row["valid_from"]): (row["description"], row["valid_to"])
                for row in await conn.fetch(_ENTRIES_OF_SYSTEM, system)
            }
            added = [entry for key, entry in imported.items() if key not in held]
            changed = [
                entry
                for key, entry in imported.items()
                if key in held and held[key] != (entry.description, entry.valid_to)
            ]
            removed = [key for key in held if key not in imported]
            if removed:
                await conn.execute(
                    _REMOVE, system, [code for code, _ in removed], [day for _, day in removed]
                )
            if changed:
                await conn.execute(_UPDATE, system, *_columns(changed))
            if added:
                await conn.execute(_ADD, system, *_columns(added))
            summary = ImportSummary(
                system=system,
                source_name=source_name,
                code_count=len(codes),
                added=len(added),
                changed=len(changed),
                removed=len(removed),
                sha256=_digest(system, codes),
                imported_at=self.clock.now(),
            )
            await conn.execute(
                _RECORD_IMPORT,
                summary.system,
                summary.source_name,
                summary.code_count,
                summary.added,
                summary.changed,
                summary.removed,
                summary.sha256,
                summary.imported_at,
            )
        return summary

    async def check(
        self, system: str, code: str, on: date, connection: asyncpg.Connection | None = None
    ) -> CodeCheck:
        """Whether ``code`` may be billed on ``on``; ICD-10-CM codes match with or without dot."""
        key = _key(system, code)
        if key is None:
            return check_code(system, code, on, [])
        async with connection_from(self.pool, connection) as conn:
            rows = await conn.fetch(_ENTRIES_OF_CODE, *key)
        return check_code(system, code, on, [_entry(row) for row in rows])

    async def check_many(
        self, lookups: Sequence[CodeLookup], connection: asyncpg.Connection | None = None
    ) -> list[CodeCheck]:
        """``check`` for each lookup, in the same order, with one query for all of them."""
        keys = [_key(lookup.system, lookup.code) for lookup in lookups]
        wanted = sorted({key for key in keys if key is not None})
        entries: dict[tuple[str, str], list[CatalogueCode]] = {}
        if wanted:
            async with connection_from(self.pool, connection) as conn:
                rows = await conn.fetch(
                    _ENTRIES_OF_CODES,
                    [system for system, _ in wanted],
                    [code for _, code in wanted],
                )
            for row in rows:
                entries.setdefault((row["system"], row["code"]), []).append(_entry(row))
        return [
            check_code(lookup.system, lookup.code, lookup.on, entries.get(key, []) if key else [])
            for lookup, key in zip(lookups, keys, strict=True)
        ]

    async def describe(
        self, system: str, code: str, on: date, connection: asyncpg.Connection | None = None
    ) -> CatalogueCode | None:
        """The catalogue's entry for ``code`` in effect on ``on``, if it may be billed that day."""
        checked = await self.check(system, code, on, connection)
        return checked.entry if checked.is_valid else None

    async def systems(self, connection: asyncpg.Connection | None = None) -> list[SystemSummary]:
        """Every code system with codes or imports, with its last import."""
        async with connection_from(self.pool, connection) as conn:
            rows = await conn.fetch(_SYSTEMS)
        return [
            SystemSummary(
                system=row["system"],
                codes=row["codes"],
                entries=row["entries"],
                last_import=ImportSummary(
                    system=row["system"],
                    source_name=row["source_name"],
                    code_count=row["code_count"],
                    added=row["added"],
                    changed=row["changed"],
                    removed=row["removed"],
                    sha256=row["sha256"],
                    imported_at=row["imported_at"],
                )
                if row["imported_at"] is not None
                else None,
            )
            for row in rows
        ]


def _checked_system(system: str) -> str:
    try:
        return CodeSystem.named(system).name
    except MalformedCode as error:
        raise RuleViolated("system", str(error)) from error


def _check_importable(system: str, codes: Sequence[CatalogueCode]) -> None:
    if not codes:
        raise RuleViolated(
            "codes", f"no codes to import: importing none would empty the {system} catalogue"
        )
    for position, entry in enumerate(codes):
        if entry.system != system:
            raise RuleViolated(
                f"codes[{position}].system",
                f"{entry.system} {entry.code} in an import of {system} codes: one import, one "
                "system",
            )
    overlaps = overlapping_entries(codes)
    if overlaps:
        earlier, later = overlaps[0]
        raise RuleViolated(
            f"codes[{later}]",
            f"{codes[later].system} {codes[later].code} from {codes[later].valid_from} overlaps "
            f"codes[{earlier}], from {codes[earlier].valid_from}: a code means one thing on a day",
        )


def _key(system: str, code: str) -> tuple[str, str] | None:
    """The catalogue's key for a code, or None when it cannot be one."""
    try:
        code_system = CodeSystem.named(system)
        return code_system.name, code_system.canonical(code)
    except MalformedCode:
        return None


def _entry(row: asyncpg.Record) -> CatalogueCode:
    return CatalogueCode.model_validate(dict(row))


def _columns(
    entries: Sequence[CatalogueCode],
) -> tuple[list[str], list[date], list[str], list[date | None]]:
    return (
        [entry.code for entry in entries],
        [entry.valid_from for entry in entries],
        [entry.description for entry in entries],
        [entry.valid_to for entry in entries],
    )


def _digest(system: str, codes: Sequence[CatalogueCode]) -> str:
    """SHA-256 of the codes in canonical form: the same codes give the same digest, whatever the
    order, quoting or line endings of the file they came from."""
    canonical = "\n".join(
        json.dumps(
            [
                system,
                entry.code,
                entry.valid_from.isoformat(),
                entry.valid_to.isoformat() if entry.valid_to else None,
                entry.description,
            ],
            ensure_ascii=False,
        )
        for entry in sorted(codes, key=lambda entry: (entry.code, entry.valid_from))
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
