"""Collections' own read models rebuilt from its store are what the service built as it went."""

from __future__ import annotations

from datetime import timedelta

from services.collections.rebuild import rebuild
from tests.integration.collections.conftest import NOW, RunningCollections
from tests.polling import eventually

TABLES = {
    "debts": "SELECT * FROM debts ORDER BY debt_id",
    "notices": "SELECT notice_id, debt_id, kind, channel, recipient, document, status FROM notice_deliveries "
               "ORDER BY notice_id",
    "placements": "SELECT * FROM placements ORDER BY placement_id",
}


async def test_rebuilding_debts_notices_and_placements_gives_the_same_tables(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears(4_200)
    await collections.run()
    await collections.run(NOW + timedelta(days=15))
    await collections.pay(issued, 4_200)

    async def delivered() -> bool:
        return not await collections.pool.fetchval("SELECT count(*) FROM notice_deliveries WHERE status = 'pending'")

    await eventually(delivered, timeout=20, message="every notice was delivered")
    before = {name: [dict(r) for r in await collections.pool.fetch(sql)] for name, sql in TABLES.items()}
    assert any(r["debt_id"] == debt_id and r["status"] == "settled" for r in before["debts"])
    for model in TABLES:
        await rebuild(model, collections.app.state.settings)
    after = {name: [dict(r) for r in await collections.pool.fetch(sql)] for name, sql in TABLES.items()}
    assert after == before
