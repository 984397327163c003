"""Event store throughput: ours against a raw-asyncpg ceiling and the `eventsourcing` library.

    .venv/bin/python -m benchmarks.event_store            # full run, about 2 minutes
    .venv/bin/python -m benchmarks.event_store --quick    # smoke test; the numbers mean nothing

The database defaults to the `bench` database that deploy/postgres.sh provisions (override with
--dsn or BENCH_DSN). Every contender gets a fresh schema there, dropped at the end. Contenders:

* ours -- shared.eventstore.PostgresEventStore: `append` and `iterate_all`, on tables made by our
          migrations (shared.db.migrate);
* raw  -- the ceiling: the same tables (made by the same migrations), written with a plain INSERT
          (VALUES for one event, unnest for a batch) and read with a plain
          `SELECT ... WHERE position > $1 ORDER BY position LIMIT n`, through asyncpg, decoded
          into the same RecordedEvent objects by the same function ours uses. No version check,
          no global-order filter, no wake-up;
* peer -- eventsourcing's PostgresApplicationRecorder (`insert_events`, `select_notifications`).
          It uses sync psycopg 3, so its writers are threads.

The workload: each writer appends successive versions of its own new stream (expected version
0, 1, 2, ... or 0, 100, 200, ... for batches), so there are no conflicts. Events are about 300
bytes of JSON data with a full envelope (id, type, subject, time, schema version, correlation and
causation ids); the peer stores the same envelope as JSON in `state`, as an eventsourcing
application would. Everyone encodes and decodes JSON with orjson, as our store does.

Rows: one event per transaction with 1, 4 and 16 writers (2,000 appends per cell), 100 events per
transaction with 1 and 4 writers (200 appends per cell), and a full replay of 100,000 events in
batches of 1,000 (--quick shrinks all of them). The header printed first names the commit, the
machine, the versions (including which libpq wrapper psycopg, hence the peer, uses) and the server
settings.

Method: per row, one warm-up run and then --reps timed runs per contender; within every
repetition the contenders take turns, rotating who goes first. A cell is the median of its timed
runs, and a ratio is the median of the per-repetition ratios (the two runs of a repetition are
back to back, so background load hits both alike). Replay: each contender loads the events
through its own batched append, VACUUM ANALYZE, then one warm-up and --replay-reps full replays.

Targets (BENCHMARKS.md): every append row at least 0.8x raw and ahead of the peer; batched
appends at least 2x the peer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import orjson

from benchmarks.reporting import code_version, cpu_model
from shared.db import migrate, platform_migrations
from shared.envelope import EventEnvelope
from shared.eventstore import PostgresEventStore
from shared.eventstore import postgres as ours_module  # raw reuses its column list and decoder

DEFAULT_DSN = os.environ.get("BENCH_DSN", "postgresql://bench:bench@127.0.0.1:5432/bench")
SOURCE = "/billing/invoicing"
RUN_TAG = f"{os.getpid()}_{int(time.time())}"


def dumps(value: object) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------------------------
# The workload


def make_envelope(customer: str) -> EventEnvelope:
    """An InvoiceIssued-like event: about 300 bytes of data plus a full envelope."""
    data = {
        "invoice_id": f"inv_{uuid.uuid4().hex[:12]}",
        "customer_id": customer,
        "period": {"start": "2025-01-01", "end": "2025-01-31"},
        "lines": [
            {"code": "PLAN-STANDARD", "quantity": 1, "unit_amount": "49.00"},
            {"code": "USAGE-API-OVERAGE", "quantity": 1250, "unit_amount": "0.0020"},
        ],
        "currency": "EUR",
        "total": "51.50",
        "due_date": "2025-02-14",
    }
    return EventEnvelope(
        id=uuid.uuid4(),
        type="billing.invoicing.InvoiceIssued",
        source=SOURCE,
        subject=customer,
        time=datetime.now(UTC),
        schema_version=1,
        data=data,
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
    )


@dataclass
class WriterPlan:
    """What one writer appends: successive batches to its own stream."""

    stream: uuid.UUID  # str(stream) for ours and raw; the peer's originator_id is the UUID
    batches: list[list[EventEnvelope]]


def make_plans(writers: int, total_batches: int, batch_size: int) -> list[WriterPlan]:
    """New streams, one per writer (one customer's invoices each), built before the clock starts."""
    plans = []
    for _ in range(writers):
        customer = f"cus_{uuid.uuid4().hex[:16]}"
        batches = [
            [make_envelope(customer) for _ in range(batch_size)]
            for _ in range(total_batches // writers)
        ]
        plans.append(WriterPlan(stream=uuid.uuid4(), batches=batches))
    return plans


def count_events(plans: Sequence[WriterPlan]) -> int:
    return sum(len(batch) for plan in plans for batch in plan.batches)


# --------------------------------------------------------------------------------------------
# The contenders


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class Contender:
    name: str
    table: str  # vacuumed before replay

    def __init__(self, dsn: str, tag: str) -> None:
        self.dsn = dsn
        self.schema = f"bench_{self.name}_{tag}_{RUN_TAG}"

    async def open(self, pool_size: int) -> None:
        await _admin(
            self.dsn,
            f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE',
            f'CREATE SCHEMA "{self.schema}"',
        )

    async def close(self) -> None:
        await _admin(self.dsn, f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    async def vacuum(self) -> None:
        await _admin(self.dsn, f'VACUUM ANALYZE "{self.schema}"."{self.table}"')

    async def run_appends(self, plans: Sequence[WriterPlan]) -> float:
        """Runs every writer's plan concurrently; returns the wall-clock seconds."""
        raise NotImplementedError

    async def replay(self, batch_size: int) -> int:
        """Reads and decodes every event in global order; returns how many."""
        raise NotImplementedError


class AsyncContender(Contender):
    """Writers are asyncio tasks sharing one asyncpg pool with a connection per writer. The
    tables are made by our own migrations, so ours and raw write the very same table shape."""

    table = "events"
    pool: asyncpg.Pool | None = None

    async def open(self, pool_size: int) -> None:
        await super().open(pool_size)
        pool = await asyncpg.create_pool(
            self.dsn,
            min_size=pool_size,
            max_size=pool_size,
            server_settings={"search_path": self.schema},
        )
        assert pool is not None
        self.pool = pool
        await migrate(self.pool, platform_migrations())

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        await super().close()

    async def append(self, stream_id: str, expected: int, events: list[EventEnvelope]) -> int:
        raise NotImplementedError

    async def run_appends(self, plans: Sequence[WriterPlan]) -> float:
        async def writer(plan: WriterPlan) -> None:
            stream_id, version = str(plan.stream), 0
            for batch in plan.batches:
                version = await self.append(stream_id, version, batch)

        started = time.perf_counter()
        await asyncio.gather(*(writer(plan) for plan in plans))
        return time.perf_counter() - started


class Ours(AsyncContender):
    name = "ours"

    async def open(self, pool_size: int) -> None:
        await super().open(pool_size)
        self.store = PostgresEventStore(self.pool, source=SOURCE, notify_channel="bench_events")

    async def append(self, stream_id: str, expected: int, events: list[EventEnvelope]) -> int:
        return await self.store.append(stream_id, expected, events)

    async def replay(self, batch_size: int) -> int:
        count = 0
        async for batch in self.store.iterate_all(batch_size=batch_size):
            count += len(batch)
        return count


_RAW_INSERT_ONE = """
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, subject,
                    occurred_at, correlation_id, causation_id, data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

_RAW_INSERT_MANY = """
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, subject,
                    occurred_at, correlation_id, causation_id, data)
SELECT $1, $2::integer + e.ordinality, e.event_id, e.event_type, e.schema_version, e.subject,
       e.occurred_at, e.correlation_id, e.causation_id, e.data
FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::text[], $7::timestamptz[], $8::text[],
            $9::text[], $10::jsonb[])
     WITH ORDINALITY AS e(event_id, event_type, schema_version, subject, occurred_at,
                          correlation_id, causation_id, data, ordinality)
"""

_RAW_READ = f"""
SELECT {ours_module._COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2
"""


class Raw(AsyncContender):
    name = "raw"

    async def append(self, stream_id: str, expected: int, events: list[EventEnvelope]) -> int:
        async with self.pool.acquire() as conn:
            if len(events) == 1:
                [e] = events
                await conn.execute(
                    _RAW_INSERT_ONE, stream_id, expected + 1, e.id, e.type, e.schema_version,
                    e.subject, e.time, e.correlation_id, e.causation_id, dumps(e.data),
                )
            else:
                await conn.execute(
                    _RAW_INSERT_MANY,
                    stream_id,
                    expected,
                    [e.id for e in events],
                    [e.type for e in events],
                    [e.schema_version for e in events],
                    [e.subject for e in events],
                    [e.time for e in events],
                    [e.correlation_id for e in events],
                    [e.causation_id for e in events],
                    [dumps(e.data) for e in events],
                )
        return expected + len(events)

    async def replay(self, batch_size: int) -> int:
        count, after = 0, 0
        async with self.pool.acquire() as conn:
            while True:
                rows = await conn.fetch(_RAW_READ, after, batch_size)
                batch = [ours_module._record(row, SOURCE) for row in rows]
                count += len(batch)
                if len(batch) < batch_size:
                    return count
                after = batch[-1].global_position.position


def _peer_state(e: EventEnvelope) -> bytes:
    """The envelope as an eventsourcing application would store it: JSON in `state`."""
    return orjson.dumps(
        {
            "id": str(e.id),
            "type": e.type,
            "subject": e.subject,
            "time": e.time.isoformat(),
            "schema_version": e.schema_version,
            "correlation_id": e.correlation_id,
            "causation_id": e.causation_id,
            "data": e.data,
        }
    )


class Peer(Contender):
    """eventsourcing's PostgresApplicationRecorder: per transaction it takes
    `LOCK TABLE ... IN EXCLUSIVE MODE`, sends NOTIFY and inserts. Sync psycopg, so writers are
    threads, one pooled connection each."""

    name = "peer"
    table = "stored_events"
    datastore: Any = None  # eventsourcing.postgres.PostgresDatastore, imported when opened

    async def open(self, pool_size: int) -> None:
        await super().open(pool_size)
        await asyncio.to_thread(self._open_sync, pool_size)

    def _open_sync(self, pool_size: int) -> None:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        url = urlsplit(self.dsn)
        self.datastore = PostgresDatastore(
            dbname=unquote(url.path.lstrip("/")),
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            user=unquote(url.username or ""),
            password=unquote(url.password or ""),
            schema=self.schema,
            pool_size=pool_size,
        )
        self.recorder = PostgresApplicationRecorder(self.datastore)
        self.recorder.create_table()
        # Open the pool and wait for all its connections, so no timed run pays for connecting.
        self.datastore.pool.open(wait=True, timeout=30)
        self.datastore.pool.wait(timeout=30)

    async def close(self) -> None:
        if self.datastore is not None:
            await asyncio.to_thread(self.datastore.close)
        await super().close()

    async def run_appends(self, plans: Sequence[WriterPlan]) -> float:
        return await asyncio.to_thread(self._run_appends_sync, plans)

    def _run_appends_sync(self, plans: Sequence[WriterPlan]) -> float:
        from eventsourcing.persistence import StoredEvent

        start = threading.Barrier(len(plans) + 1)
        errors: list[BaseException] = []

        def writer(plan: WriterPlan) -> None:
            start.wait()
            try:
                version = 0
                for batch in plan.batches:
                    self.recorder.insert_events(
                        [
                            StoredEvent(
                                originator_id=plan.stream,
                                originator_version=version + i,
                                topic=e.type,
                                state=_peer_state(e),
                            )
                            for i, e in enumerate(batch, start=1)
                        ]
                    )
                    version += len(batch)
            except BaseException as error:  # noqa: BLE001 - re-raised after the run
                errors.append(error)

        threads = [threading.Thread(target=writer, args=(plan,)) for plan in plans]
        for thread in threads:
            thread.start()
        start.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        return elapsed

    async def replay(self, batch_size: int) -> int:
        return await asyncio.to_thread(self._replay_sync, batch_size)

    def _replay_sync(self, batch_size: int) -> int:
        # The library's Notification objects plus decoding their JSON state (ours and raw decode
        # `data` into RecordedEvent too).
        count, start = 0, 1
        while True:
            notifications = self.recorder.select_notifications(start, batch_size)
            for notification in notifications:
                orjson.loads(notification.state)
            count += len(notifications)
            if len(notifications) < batch_size:
                return count
            start = notifications[-1].id + 1


CONTENDERS: list[type[Contender]] = [Ours, Raw, Peer]

# --------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Row:
    writers: int
    batch_size: int
    total_batches: int  # split evenly between the writers

    @property
    def title(self) -> str:
        return f"append, {self.batch_size} event{'s' if self.batch_size > 1 else ''}/txn"


@dataclass
class Cell:
    runs: list[float] = field(default_factory=list)  # events/s of each timed run

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def rotated(items: list[Contender], by: int) -> list[Contender]:
    by %= len(items)
    return items[by:] + items[:by]


async def measure_appends(dsn: str, row: Row, reps: int) -> dict[str, Cell]:
    contenders: list[Contender] = []
    try:
        for kind in CONTENDERS:
            contenders.append(kind(dsn, f"{row.batch_size}x{row.writers}"))
            await contenders[-1].open(pool_size=row.writers)
        cells = {c.name: Cell() for c in contenders}
        for rep in range(reps + 1):  # rep 0 is the warm-up
            for c in rotated(contenders, rep):
                plans = make_plans(row.writers, row.total_batches, row.batch_size)
                elapsed = await c.run_appends(plans)
                if rep > 0:
                    cells[c.name].runs.append(count_events(plans) / elapsed)
    finally:
        for c in contenders:  # the ones that were opened (or began to be)
            await c.close()
    return cells


async def measure_replay(dsn: str, events: int, reps: int, batch_size: int) -> dict[str, Cell]:
    contenders: list[Contender] = []
    try:
        for kind in CONTENDERS:
            contenders.append(c := kind(dsn, "replay"))
            await c.open(pool_size=4)
            await c.run_appends(make_plans(4, events // 100, 100))  # its own batched append
            await c.vacuum()
        cells = {c.name: Cell() for c in contenders}
        for rep in range(reps + 1):  # rep 0 is the warm-up
            for c in rotated(contenders, rep):
                started = time.perf_counter()
                count = await c.replay(batch_size)
                elapsed = time.perf_counter() - started
                if count != events:
                    raise RuntimeError(f"{c.name} replayed {count} events, expected {events}")
                if rep > 0:
                    cells[c.name].runs.append(count / elapsed)
    finally:
        for c in contenders:  # the ones that were opened (or began to be)
            await c.close()
    return cells


# --------------------------------------------------------------------------------------------
# Reporting


async def header(dsn: str) -> list[str]:
    """The machine, the software and the server settings the numbers depend on."""
    import psycopg

    conn = await asyncpg.connect(dsn)
    try:
        server = await conn.fetchval("SELECT version()")
        settings = await conn.fetch(
            """SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN
               ('synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay',
                'full_page_writes', 'wal_level', 'shared_buffers', 'max_connections', 'jit')
               ORDER BY name"""
        )
    finally:
        await conn.close()
    cpu = cpu_model()
    shown = ", ".join(f"{s['name']}={s['value']}" for s in settings)
    return [
        f"code: {code_version(['shared/eventstore', 'shared/migrations', 'shared/db.py'])}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}",
        (
            f"Python {platform.python_version()}, asyncpg {asyncpg.__version__}, "
            f"orjson {orjson.__version__}, eventsourcing {installed_version('eventsourcing')}, "
            f"psycopg {psycopg.__version__} (libpq wrapper: {psycopg.pq.__impl__})"
        ),
        server,
        f"server settings: {shown}",
    ]


async def other_transactions(dsn: str) -> int:
    """Transactions committed so far in the server's other databases: others may share the
    server, so the report says how busy it was."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(xact_commit + xact_rollback), 0) FROM pg_stat_database "
                "WHERE datname IS NOT NULL AND datname <> current_database()"
            )
        )
    finally:
        await conn.close()


def ratio(cells: dict[str, Cell], a: str, b: str) -> float:
    """The median of the per-repetition ratios a/b."""
    return statistics.median(x / y for x, y in zip(cells[a].runs, cells[b].runs, strict=True))


def verdict(row: Row, vs_raw: float, vs_peer: float) -> str:
    """The targets: at least 0.8x raw, ahead of the peer, and batches at least 2x the peer."""
    if row.batch_size > 1:
        peer_target, peer_met = "≥2×peer", vs_peer >= 2.0
    else:
        peer_target, peer_met = ">1×peer", vs_peer > 1.0
    return (
        f"≥0.8×raw {'met' if vs_raw >= 0.8 else 'MISSED'}; "
        f"{peer_target} {'met' if peer_met else 'MISSED'}"
    )


def table(
    appends: list[tuple[Row, dict[str, Cell]]], replay_events: int, replay: dict[str, Cell]
) -> list[str]:
    lines = [
        (
            "| workload | writers | ours ev/s | raw ev/s | peer ev/s | ours/raw | ours/peer"
            " | targets |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row, cells in appends:
        vs_raw, vs_peer = ratio(cells, "ours", "raw"), ratio(cells, "ours", "peer")
        lines.append(
            f"| {row.title} | {row.writers} | {cells['ours'].median:,.0f} | "
            f"{cells['raw'].median:,.0f} | {cells['peer'].median:,.0f} | {vs_raw:.2f} | "
            f"{vs_peer:.2f} | {verdict(row, vs_raw, vs_peer)} |"
        )
    lines.append(
        f"| full replay, {replay_events:,} events, batches of 1000 | – | "
        f"{replay['ours'].median:,.0f} | {replay['raw'].median:,.0f} | "
        f"{replay['peer'].median:,.0f} | {ratio(replay, 'ours', 'raw'):.2f} | "
        f"{ratio(replay, 'ours', 'peer'):.2f} | (no target) |"
    )
    return lines


async def run(args: argparse.Namespace) -> None:
    singles = 400 if args.quick else 2000
    batches = 40 if args.quick else 200
    replay_events = 20_000 if args.quick else 100_000
    reps = 1 if args.quick else args.reps
    replay_reps = 1 if args.quick else args.replay_reps
    rows = [
        Row(writers=1, batch_size=1, total_batches=singles),
        Row(writers=4, batch_size=1, total_batches=singles),
        Row(writers=16, batch_size=1, total_batches=singles),
        Row(writers=1, batch_size=100, total_batches=batches),
        Row(writers=4, batch_size=100, total_batches=batches),
    ]

    print(f"$ .venv/bin/python -m benchmarks.event_store {' '.join(sys.argv[1:])}".rstrip())
    print(*await header(args.dsn), sep="\n")
    print(
        f"appends: {singles:,} single-event appends and {batches} appends of 100 events per "
        f"cell; 1 warm-up + {reps} timed runs per cell, median; contenders take turns\n"
        f"replay: {replay_events:,} events, VACUUM ANALYZE, 1 warm-up + {replay_reps} timed "
        "full replays in batches of 1000, median\n",
        flush=True,
    )

    others_before, load_before, started = (
        await other_transactions(args.dsn), os.getloadavg()[0], time.time()
    )
    appends = []
    for row in rows:
        cells = await measure_appends(args.dsn, row, reps)
        appends.append((row, cells))
        print(
            f"  {row.title} x{row.writers}: "
            + ", ".join(f"{name} {cell.median:,.0f}" for name, cell in cells.items()),
            flush=True,
        )
    replay = await measure_replay(args.dsn, replay_events, replay_reps, batch_size=1000)
    print("  replay: " + ", ".join(f"{n} {c.median:,.0f}" for n, c in replay.items()))
    others = await other_transactions(args.dsn) - others_before

    print(
        f"\nduring the {(time.time() - started) / 60:.1f} min of measuring: {others:,} "
        f"transactions in other databases; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (this benchmark alone keeps it near 2)\n"
    )
    print("events/s are medians of the timed runs; a ratio is the median of the per-repetition "
          "ratios\n")
    print(*table(appends, replay_events, replay), sep="\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small cells, 1 timed run: a smoke test"
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--reps", type=int, default=5, help="timed runs per append cell")
    parser.add_argument("--replay-reps", type=int, default=3, help="timed replays per contender")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
