"""The code catalogue against the real PostgreSQL: imports replace a system's codes and are
recorded, and lookups say whether a code may be billed on a day, one at a time or in a batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services import invoicing
from services.invoicing.adapters.catalogue_store import CatalogueStore
from services.invoicing.adapters.code_files import read_code_file, shipped_code_files
from services.invoicing.domain.codes import (
    HCPCS,
    ICD_10_CM,
    CatalogueCode,
    CodeLookup,
    CodeStatus,
)
from shared.clock import FixedClock
from shared.db import migrate, migrations_in
from shared.rules import RuleViolated

pytestmark = pytest.mark.integration

INVOICING_MIGRATIONS = Path(invoicing.__file__).parent / "migrations"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SERVICE_DATE = date(2026, 3, 2)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def store(schema_pool: asyncpg.Pool, clock: FixedClock) -> CatalogueStore:
    await migrate(schema_pool, migrations_in(INVOICING_MIGRATIONS, "invoicing"))
    return CatalogueStore(schema_pool, clock=clock)


@pytest.fixture
def icd_codes() -> list[CatalogueCode]:
    return read_code_file(shipped_code_files()[ICD_10_CM])


@pytest.fixture
def hcpcs_codes() -> list[CatalogueCode]:
    return read_code_file(shipped_code_files()[HCPCS])


def code(
    value: str, description: str, valid_from: date, valid_to: date | None = None,
    system: str = ICD_10_CM,
) -> CatalogueCode:
    return CatalogueCode(
        system=system, code=value, description=description, valid_from=valid_from,
        valid_to=valid_to,
    )


async def test_an_import_loads_every_code_and_is_recorded(
    store: CatalogueStore, icd_codes: list[CatalogueCode]
) -> None:
    summary = await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")

    assert (summary.code_count, summary.added, summary.changed, summary.removed) == (
        len(icd_codes), len(icd_codes), 0, 0
    )
    assert summary.imported_at == NOW and len(summary.sha256) == 64
    [system] = await store.systems()
    assert (system.system, system.entries, system.last_import) == (
        ICD_10_CM, len(icd_codes), summary
    )
    assert system.codes == len({c.code for c in icd_codes})


async def test_importing_the_same_file_again_changes_nothing_but_is_recorded(
    store: CatalogueStore, clock: FixedClock, icd_codes: list[CatalogueCode]
) -> None:
    first = await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")
    clock.advance(timedelta(hours=1))

    again = await store.import_codes(ICD_10_CM, list(reversed(icd_codes)), "icd-10-cm.csv")

    assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, len(icd_codes))
    assert again.sha256 == first.sha256  # the same codes, whatever their order
    [system] = await store.systems()
    assert system.entries == len(icd_codes)
    assert system.last_import == again and again.imported_at == NOW + timedelta(hours=1)
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM catalogue_imports") == 2


async def test_an_import_replaces_the_systems_codes_and_leaves_other_systems_alone(
    store: CatalogueStore, icd_codes: list[CatalogueCode], hcpcs_codes: list[CatalogueCode]
) -> None:
    await store.import_codes(HCPCS, hcpcs_codes, "hcpcs.csv")
    await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")
    kept = [c for c in icd_codes if c.code not in {"J06.9", "I10"}]
    reworded = code("I10", "Essential hypertension", date(2015, 10, 1))
    retired = code("Z23", "Encounter for immunization", date(2015, 10, 1), date(2026, 2, 28))
    new = code("Z99.89", "Dependence on other enabling machines and devices", date(2015, 10, 1))
    replacement = [c for c in kept if c.code != "Z23"] + [reworded, retired, new]

    summary = await store.import_codes(ICD_10_CM, replacement, "icd-10-cm-2026.csv")

    assert (summary.added, summary.changed, summary.removed) == (1, 2, 1)
    assert (await store.check(ICD_10_CM, "J06.9", SERVICE_DATE)).status is CodeStatus.UNKNOWN
    assert await store.describe(ICD_10_CM, "I10", SERVICE_DATE) == reworded
    assert (await store.check(ICD_10_CM, "Z23", SERVICE_DATE)).message == (
        "ICD-10-CM Z23 expired on 2026-02-28"
    )
    assert (await store.check(ICD_10_CM, "Z99.89", SERVICE_DATE)).is_valid
    by_system = {s.system: s for s in await store.systems()}
    assert by_system[HCPCS].entries == len(hcpcs_codes)
    assert by_system[ICD_10_CM].entries == len(replacement)
    assert by_system[ICD_10_CM].last_import == summary


async def test_a_code_is_valid_unknown_expired_or_not_yet_valid_on_a_day(
    store: CatalogueStore, icd_codes: list[CatalogueCode], hcpcs_codes: list[CatalogueCode]
) -> None:
    await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")
    await store.import_codes(HCPCS, hcpcs_codes, "hcpcs.csv")

    valid = await store.check(HCPCS, "G0008", SERVICE_DATE)
    assert valid.is_valid and valid.entry is not None
    assert valid.entry.description == "Administration of influenza virus vaccine"
    unknown = await store.check(HCPCS, "G9999", SERVICE_DATE)
    assert (unknown.status, unknown.message) == (
        CodeStatus.UNKNOWN, "HCPCS G9999 is not in the catalogue"
    )
    expired = await store.check(ICD_10_CM, "R05", SERVICE_DATE)
    assert (expired.status, expired.message) == (
        CodeStatus.EXPIRED, "ICD-10-CM R05 expired on 2021-09-30"
    )
    not_yet = await store.check(ICD_10_CM, "R05.1", date(2021, 9, 30))
    assert (not_yet.status, not_yet.message) == (
        CodeStatus.NOT_YET_VALID, "ICD-10-CM R05.1 is not valid until 2021-10-01"
    )
    malformed = await store.check(HCPCS, "99213", SERVICE_DATE)
    assert malformed.status is CodeStatus.MALFORMED
    assert (await store.check("CPT", "99213", SERVICE_DATE)).message == (
        "CPT 99213 is not in the catalogue"  # no CPT is shipped
    )


async def test_icd_10_cm_codes_are_found_with_or_without_their_dot(
    store: CatalogueStore, icd_codes: list[CatalogueCode]
) -> None:
    await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")

    for spelling in ("J06.9", "J069", "j069", " j06.9 "):
        checked = await store.check(ICD_10_CM, spelling, SERVICE_DATE)
        assert checked.is_valid and checked.code == "J06.9", spelling
    described = await store.describe(ICD_10_CM, "S52521A", SERVICE_DATE)
    assert described is not None and described.code == "S52.521A"
    assert await store.describe(ICD_10_CM, "R05", SERVICE_DATE) is None  # expired


async def test_a_batch_is_checked_in_the_order_given(
    store: CatalogueStore, icd_codes: list[CatalogueCode], hcpcs_codes: list[CatalogueCode]
) -> None:
    await store.import_codes(ICD_10_CM, icd_codes, "icd-10-cm.csv")
    await store.import_codes(HCPCS, hcpcs_codes, "hcpcs.csv")
    lookups = [
        CodeLookup(HCPCS, "J1100", SERVICE_DATE),
        CodeLookup(ICD_10_CM, "E1165", SERVICE_DATE),
        CodeLookup(ICD_10_CM, "R05", date(2021, 9, 30)),
        CodeLookup(ICD_10_CM, "R05", SERVICE_DATE),
        CodeLookup(HCPCS, "G2012", date(2025, 1, 1)),
        CodeLookup(HCPCS, "G9999", SERVICE_DATE),
        CodeLookup(ICD_10_CM, "R05.1", date(2021, 1, 1)),
        CodeLookup(HCPCS, "not a code", SERVICE_DATE),
        CodeLookup("ICD-9", "786.2", SERVICE_DATE),
        CodeLookup("tariff:city-water", "WATER-M3", SERVICE_DATE),
    ]

    checks = await store.check_many(lookups)

    assert [(c.code, c.status) for c in checks] == [
        ("J1100", CodeStatus.VALID),
        ("E11.65", CodeStatus.VALID),
        ("R05", CodeStatus.VALID),
        ("R05", CodeStatus.EXPIRED),
        ("G2012", CodeStatus.EXPIRED),
        ("G9999", CodeStatus.UNKNOWN),
        ("R05.1", CodeStatus.NOT_YET_VALID),
        ("not a code", CodeStatus.MALFORMED),
        ("786.2", CodeStatus.MALFORMED),
        ("WATER-M3", CodeStatus.UNKNOWN),  # the tariff was not imported
    ]
    assert checks == [await store.check(*lookup) for lookup in lookups]
    assert await store.check_many([]) == []


async def test_an_import_joins_the_callers_transaction(
    store: CatalogueStore, hcpcs_codes: list[CatalogueCode]
) -> None:
    async with store.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await store.import_codes(HCPCS, hcpcs_codes, "hcpcs.csv", connection=conn)
        assert (await store.check(HCPCS, "G0008", SERVICE_DATE, connection=conn)).is_valid
        await transaction.rollback()

    assert await store.systems() == []
    assert (await store.check(HCPCS, "G0008", SERVICE_DATE)).status is CodeStatus.UNKNOWN


@pytest.mark.parametrize(
    ("codes", "field", "message"),
    [
        ([], "codes", "no codes to import: importing none would empty the HCPCS catalogue"),
        (
            [code("J06.9", "Acute upper respiratory infection", date(2015, 10, 1))],
            "codes[0].system",
            "ICD-10-CM J06.9 in an import of HCPCS codes: one import, one system",
        ),
        (
            [
                code("G0008", "Flu vaccine administration", date(2020, 1, 1), system=HCPCS),
                code("G0008", "Flu vaccine administration", date(2024, 1, 1), system=HCPCS),
            ],
            "codes[1]",
            (
                "HCPCS G0008 from 2024-01-01 overlaps codes[0], from 2020-01-01: a code means "
                "one thing on a day"
            ),
        ),
    ],
)
async def test_an_import_that_would_spoil_the_catalogue_is_refused_and_changes_nothing(
    store: CatalogueStore,
    hcpcs_codes: list[CatalogueCode],
    codes: list[CatalogueCode],
    field: str,
    message: str,
) -> None:
    await store.import_codes(HCPCS, hcpcs_codes, "hcpcs.csv")

    with pytest.raises(RuleViolated) as refused:
        await store.import_codes(HCPCS, codes, "bad.csv")

    assert (refused.value.field, refused.value.message) == (field, message)
    [system] = await store.systems()
    assert system.entries == len(hcpcs_codes) and system.last_import is not None
    assert system.last_import.source_name == "hcpcs.csv"


async def test_an_import_under_a_name_that_is_not_a_code_system_is_refused(
    store: CatalogueStore,
) -> None:
    with pytest.raises(RuleViolated) as refused:
        await store.import_codes("ICD-9", [], "icd9.csv")
    assert refused.value.field == "system"


async def test_the_table_itself_refuses_an_icd_10_cm_code_without_its_dot(
    store: CatalogueStore,
) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO catalogue_codes (system, code, description, valid_from) "
                "VALUES ('ICD-10-CM', 'J069', 'Acute upper respiratory infection', '2015-10-01')"
            )
