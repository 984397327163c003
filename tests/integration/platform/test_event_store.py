"""The PostgreSQL event store against the real database."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import asyncpg
import pytest

from shared.envelope import EventEnvelope
from shared.eventstore import ConcurrencyConflict, GlobalPosition, PostgresEventStore, RecordedEvent
from tests.polling import eventually

pytestmark = pytest.mark.integration


def an_event(subject: str = "c-1", n: int = 0) -> EventEnvelope:
    return EventEnvelope(
        id=uuid.uuid4(),
        type="billing.test.Happened",
        source="/billing/test",
        subject=subject,
        time=datetime(2026, 1, 1, tzinfo=timezone.utc),
        schema_version=1,
        data={"n": n},
    )


@pytest.fixture
def store(schema_pool: asyncpg.Pool) -> PostgresEventStore:
    return PostgresEventStore(schema_pool, source="/billing/test")


async def test_appended_events_read_back_in_stream_order(store: PostgresEventStore) -> None:
    assert await store.append("s-1", 0, [an_event(n=1), an_event(n=2)]) == 2
    assert await store.append("s-1", 2, [an_event(n=3)]) == 3

    stream = await store.read_stream("s-1")

    assert [r.version for r in stream] == [1, 2, 3]
    assert [r.envelope.data["n"] for r in stream] == [1, 2, 3]
    assert await store.stream_version("s-1") == 3


async def test_stale_expected_version_is_refused_and_writes_nothing(
    store: PostgresEventStore, readable: Callable[[int], Awaitable[None]]
) -> None:
    await store.append("s-1", 0, [an_event(n=1)])

    with pytest.raises(ConcurrencyConflict):
        await store.append("s-1", 0, [an_event(n=2), an_event(n=3)])
    with pytest.raises(ConcurrencyConflict):
        await store.append("s-1", 5, [an_event(n=4)])

    assert [r.envelope.data["n"] for r in await store.read_stream("s-1")] == [1]
    await readable(1)
    assert len(await store.read_all()) == 1


async def test_concurrent_appends_at_the_same_version_let_exactly_one_win(
    store: PostgresEventStore,
) -> None:
    await store.append("s-1", 0, [an_event()])

    results = await asyncio.gather(
        *(store.append("s-1", 1, [an_event(n=i)]) for i in range(10)), return_exceptions=True
    )

    assert sum(1 for r in results if r == 2) == 1
    assert sum(1 for r in results if isinstance(r, ConcurrencyConflict)) == 9
    assert await store.stream_version("s-1") == 2


async def test_a_stream_is_never_appended_from_an_older_transaction(
    store: PostgresEventStore, schema_pool: asyncpg.Pool
) -> None:
    """A transaction that got its xid before the stream's last append must not append after it,
    or the global order would put version 2 before version 1."""
    async with schema_pool.acquire() as older:
        transaction = older.transaction()
        await transaction.start()
        await older.fetchval("SELECT pg_current_xact_id()")  # the older transaction's xid
        await store.append("s-1", 0, [an_event(n=1)])  # a newer transaction appends v1
        with pytest.raises(ConcurrencyConflict):
            await store.append("s-1", 1, [an_event(n=2)], connection=older)
        await transaction.rollback()


async def test_one_transaction_may_append_to_a_stream_twice_in_version_order(
    store: PostgresEventStore, schema_pool: asyncpg.Pool
) -> None:
    """A use case that decides in steps (take a payment, then allocate it) appends twice before it
    commits; the versions and the global order still agree."""
    async with schema_pool.acquire() as conn, conn.transaction():
        assert await store.append("s-1", 0, [an_event(n=1)], connection=conn) == 1
        assert await store.append("s-1", 1, [an_event(n=2), an_event(n=3)], connection=conn) == 3
    recorded = await store.read_stream("s-1")
    assert [r.version for r in recorded] == [1, 2, 3]
    assert [r.global_position for r in recorded] == sorted(r.global_position for r in recorded)


async def test_global_reader_never_skips_an_event_that_commits_late(
    store: PostgresEventStore, schema_pool: asyncpg.Pool
) -> None:
    """A slow transaction takes position 1, a fast one takes position 2 and commits first. A naive
    reader that remembers the highest position seen skips position 1 for ever; ours waits for it."""
    async with schema_pool.acquire() as slow:
        transaction = slow.transaction()
        await transaction.start()
        await store.append("slow", 0, [an_event("a", 1)], connection=slow)  # position 1
        await store.append("fast", 0, [an_event("b", 2)])  # position 2, committed

        naive_seen = await _naive_read(schema_pool, after=0)
        ours_seen = await store.read_all(GlobalPosition.START)
        await transaction.commit()

    assert [p for p, _ in naive_seen] == [2]
    assert ours_seen == []  # position 1 might still commit: nothing is safe to hand out yet

    naive_after = await _naive_read(schema_pool, after=naive_seen[-1][0])
    # handed out once every older transaction on the server has ended (other tests may share it)
    ours_after = await eventually(lambda: _all_of(store, 2), message="both events readable")

    assert naive_after == []  # the naive cursor lost position 1
    assert sorted(r.envelope.data["n"] for r in ours_after) == [1, 2]


async def _all_of(store: PostgresEventStore, count: int) -> list[RecordedEvent]:
    events = await store.read_all(GlobalPosition.START)
    return events if len(events) >= count else []


async def _naive_read(pool: asyncpg.Pool, after: int) -> list[tuple[int, int]]:
    rows = await pool.fetch(
        "SELECT position, (data->>'n')::int AS n FROM events WHERE position > $1 ORDER BY position",
        after,
    )
    return [(r["position"], r["n"]) for r in rows]


async def test_tailing_reader_sees_every_committed_event_once_under_concurrent_writers(
    store: PostgresEventStore, schema_pool: asyncpg.Pool
) -> None:
    """Many writers, some of which roll back after holding their positions for a while, and a
    reader tailing the global order the whole time: it ends with exactly the committed events,
    each once, and a stream's versions in order."""
    rng = random.Random(7)
    committed: set[uuid.UUID] = set()
    writers_done = asyncio.Event()

    async def writer(index: int) -> None:
        for round_ in range(25):
            event = an_event(f"c-{index}", round_)
            async with schema_pool.acquire() as conn:
                transaction = conn.transaction()
                await transaction.start()
                version = await conn.fetchval(
                    "SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1", f"w-{index}"
                )
                await store.append(f"w-{index}", version, [event], connection=conn)
                await asyncio.sleep(rng.random() / 200)  # hold the position while others commit
                if rng.random() < 0.2:
                    await transaction.rollback()
                else:
                    await transaction.commit()
                    committed.add(event.id)

    seen: list[uuid.UUID] = []
    versions: dict[str, list[int]] = {}

    async def tail() -> None:
        cursor = GlobalPosition.START
        while True:
            finished = writers_done.is_set()
            for recorded in await store.read_all(cursor, 50):
                seen.append(recorded.envelope.id)
                versions.setdefault(recorded.stream_id, []).append(recorded.version)
                cursor = recorded.global_position
            if finished and len(seen) >= len(committed):
                return
            await asyncio.sleep(0.001)

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(writer(i) for i in range(8)))
    writers_done.set()
    await asyncio.wait_for(reader, 60)

    assert len(seen) == len(set(seen))
    assert set(seen) == committed
    for stream_versions in versions.values():
        assert stream_versions == list(range(1, len(stream_versions) + 1))


async def test_global_order_is_numeric_by_transaction_id_across_digit_boundaries(
    store: PostgresEventStore, schema_pool: asyncpg.Pool
) -> None:
    """Transaction 99 comes before transaction 100 (as numbers, not as text), also when a batch
    boundary falls between them."""
    for xid, n in ((100, 2), (99, 1), (1000, 3)):
        await schema_pool.execute(
            """INSERT INTO events (xid, stream_id, version, event_id, event_type, schema_version,
                                   subject, occurred_at, data)
               VALUES ($1::text::xid8, $2, 1, $3, 'billing.test.Happened', 1, 'c', now(), $4::jsonb)""",
            str(xid), f"s-{xid}", uuid.uuid4(), f'{{"n": {n}}}',
        )

    one_by_one: list[int] = []
    cursor = GlobalPosition.START
    while batch := await store.read_all(cursor, limit=1):
        one_by_one.append(batch[0].envelope.data["n"])
        cursor = batch[0].global_position

    assert [r.envelope.data["n"] for r in await store.read_all()] == [1, 2, 3]
    assert one_by_one == [1, 2, 3]
