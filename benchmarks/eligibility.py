"""Insurance verification throughput, and the cost of reading a 271.

    .venv/bin/python -m benchmarks.eligibility [--checks 400] [--slow-checks 80] [--payer-latency 0.2] [--reps 3]

Verification: the verifier works N pending checks, each a real round trip: a 270 written and
kept in PostgreSQL, posted over HTTP to the clearinghouse simulator (its own process, as `make
run` serves it, answering from the bundled PPO member with a dozen EB loops), its 271 kept,
parsed, and the check ended by an event appended with its read model in one transaction. Reported as checks/s for

* concurrent -- the verifier as the service runs it: up to 8 due checks claimed per pass and
                worked concurrently;
* sequential -- one check per pass, the baseline measured in the same run;

both with the simulator answering at once, and again with it taking `--payer-latency` seconds per
answer (real clearinghouses take hundreds of milliseconds), where concurrency is what counts.

X12: `parse_271` on the 271s the run received, against only tokenising the same documents into
segments and elements (the ceiling: what any reader must do at least), in documents/s.

Runs in a fresh schema of the `bench` database (`BENCH_DATABASE_URL`), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx

from services.eligibility.adapters.clearinghouse import HttpClearinghouse
from services.eligibility.adapters.x12_271 import parse_271
from services.eligibility.adapters.x12_gateway import X12Gateway
from services.eligibility.application.handlers import PayerNotFound, Verifications
from services.eligibility.application.read_models import INLINE_READ_MODELS
from services.eligibility.application.verifier import Submitter, Verifier, VerifierPolicy
from services.eligibility.domain.coverage import Party
from services.eligibility.domain.events import (
    ELIGIBILITY_EVENTS,
    SOURCE,
    BillingContact,
    CheckTrigger,
    PayerKind,
    PayerProfile,
    SubscriberSnapshot,
    X12Connection,
)
from services.eligibility.domain.payer import Payer
from services.eligibility.domain.verification import CheckRequest, CoverageVerification
from services.eligibility.main import MIGRATIONS
from shared.clock import FixedClock
from shared.db import migrate, migrations_in, platform_migrations
from shared.eventstore import PostgresEventStore
from shared.eventstore.repository import EventSourcedRepository

DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
CLOCK = FixedClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
MEMBER = "W123456789"  # the bundled PPO member
SLOW_MEMBER = "BENCHSLOW1"


@contextlib.asynccontextmanager
async def clearinghouse_process() -> AsyncIterator[str]:
    """`python -m simulators.clearinghouse` on a free port, until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "simulators.clearinghouse", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the clearinghouse simulator did not start")
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def verifications_on(pool: asyncpg.Pool) -> Verifications:
    store = PostgresEventStore(pool, source=SOURCE)

    def repository(fold, **options):  # type: ignore[no-untyped-def]
        return EventSourcedRepository(store, CLOCK, ELIGIBILITY_EVENTS, fold, source=SOURCE,
                                      inline_projections=INLINE_READ_MODELS, **options)

    return Verifications(
        payers=repository(Payer.fold, not_found=PayerNotFound, stream_prefix="payer-"),
        coverages=repository(CoverageVerification.fold, stream_prefix="coverage-"),
        clock=CLOCK, valid_days=30,
    )


async def request_checks(
    pool: asyncpg.Pool, verifications: Verifications, payer_id: str, count: int, member_id: str
) -> None:
    request = CheckRequest(
        customer_id="", payer_id=payer_id,
        subscriber=SubscriberSnapshot(member_id=member_id, given_name="Ada", family_name="Lovelace",
                                      date_of_birth=date(1985, 12, 10)),
        service_date=CLOCK.today(), service_types=("30", "98"), trigger=CheckTrigger.ON_DEMAND,
    )
    for n in range(count):
        async with pool.acquire() as conn, conn.transaction():
            await verifications.request_check(
                conn, f"cov_{uuid.uuid4().hex}", CheckRequest(**{**request.__dict__, "customer_id": f"cus_{n}"})
            )


async def work_all(pool: asyncpg.Pool, verifier: Verifier) -> float:
    started = time.perf_counter()
    while await verifier.run_once():
        pass
    elapsed = time.perf_counter() - started
    pending, unverified = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status <> 'verified') FROM checks"
    )
    if pending or unverified:
        raise SystemExit(f"{pending} checks left pending, {unverified} not verified: the run is void")
    return elapsed


def tokenise(document: str) -> int:
    """The least any 271 reader does: split segments and elements (separators from the ISA)."""
    element, terminator = document[3], document[105]
    return sum(len(segment.split(element)) for segment in document.split(terminator))


def documents_per_second(read, documents: list[str], rounds: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(rounds):
        for document in documents:
            read(document)
    return rounds * len(documents) / (time.perf_counter() - started)


async def main(checks: int, slow_checks: int, payer_latency: float, reps: int) -> None:
    schema = f"bench_eligibility_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(DSN, min_size=2, max_size=20, server_settings={"search_path": schema})
    assert pool is not None
    try:
        await migrate(pool, [*platform_migrations(), *migrations_in(MIGRATIONS, "eligibility")])
        verifications = verifications_on(pool)
        async with clearinghouse_process() as clearinghouse_url:
            async with pool.acquire() as conn, conn.transaction():
                await verifications.register_payer(conn, "acme-health", PayerProfile(
                    name="Acme Health", kind=PayerKind.INSURER, code_system="HCPCS",
                    connection=X12Connection(endpoint=f"{clearinghouse_url}/x12/270", payer_identifier="60054",
                                             receiver_id="CLEARINGHOUSE"),
                    billing_contact=BillingContact(name="Acme Claims"),
                ))
            gateway = X12Gateway(HttpClearinghouse(), CLOCK)
            submitter = Submitter(sender_id="BENCH", provider=Party(name="Bench Clinic", identifier="1234567893"))
            async with httpx.AsyncClient(base_url=clearinghouse_url) as simulator:
                ppo = next(m for m in (await simulator.get("/members")).json() if m["member_id"] == MEMBER)
                (await simulator.put(f"/members/{SLOW_MEMBER}", json={
                    **ppo, "member_id": SLOW_MEMBER, "behaviour": "delay", "delay_seconds": payer_latency,
                })).raise_for_status()
            results: dict[tuple[str, str], list[float]] = {}
            for rep in range(reps):
                for member_id, count in ((MEMBER, checks), (SLOW_MEMBER, slow_checks)):
                    for mode, batch in (("concurrent", 8), ("sequential", 1))[:: 1 if rep % 2 == 0 else -1]:
                        await pool.execute("TRUNCATE checks")
                        await request_checks(pool, verifications, "acme-health", count, member_id)
                        verifier = Verifier(pool=pool, verifications=verifications, gateway=gateway,
                                            submitter=submitter, policy=VerifierPolicy(batch_size=batch))
                        results.setdefault((member_id, mode), []).append(count / await work_all(pool, verifier))
            await gateway.aclose()
        documents = [r["response"] for r in await pool.fetch("SELECT response FROM x12_exchanges LIMIT 200")]
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()

    for member_id, count, latency in ((MEMBER, checks, 0.0), (SLOW_MEMBER, slow_checks, payer_latency)):
        concurrent, sequential = (statistics.median(results[(member_id, m)]) for m in ("concurrent", "sequential"))
        print(f"verification, payer answering in {latency * 1000:.0f} ms (+ local HTTP), {count} checks per run, "
              f"median of {reps} runs")
        print(f"  concurrent (8 per pass)  {concurrent:8.1f} checks/s")
        print(f"  sequential (baseline)    {sequential:8.1f} checks/s")
        print(f"  concurrent/sequential    {concurrent / sequential:8.2f}x")
    parse_rate = documents_per_second(parse_271, documents, 20)
    token_rate = documents_per_second(tokenise, documents, 20)
    size = statistics.mean(len(d) for d in documents)
    print(f"X12 271 reading, {len(documents)} documents of {size:.0f} characters, 20 rounds")
    print(f"  parse_271                {parse_rate:8.0f} documents/s")
    print(f"  tokenise only (ceiling)  {token_rate:8.0f} documents/s")
    print(f"  parse_271/tokenise       {parse_rate / token_rate:8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=400)
    parser.add_argument("--slow-checks", type=int, default=80)
    parser.add_argument("--payer-latency", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.checks, arguments.slow_checks, arguments.payer_latency, arguments.reps))
