"""Registration POST throughput beside a bare FastAPI endpoint doing one insert.

    .venv/bin/python -m benchmarks.registration_api [--requests 2000] [--concurrency 16]

Both servers run as separate uvicorn processes against the same PostgreSQL (database `bench`),
each in a fresh schema, and are driven by the same httpx client in this process:

* registration -- POST /v1/customers, the real service: authentication, validation, duplicate
                  check, idempotency guard (with an Idempotency-Key on every request), one
                  event-store append with the identity index in the same transaction, plus its
                  relay publishing every event to Kafka and its search consumer, all running;
* bare         -- a FastAPI endpoint that parses the same JSON body and INSERTs it as one row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
TOKEN = "bench-token"

BARE_APP = '''
import os, asyncpg, json
from fastapi import FastAPI, Request
from contextlib import asynccontextmanager

@asynccontextmanager
async def lifespan(app):
    app.state.pool = await asyncpg.create_pool(os.environ["DSN"], min_size=2, max_size=20)
    await app.state.pool.execute("CREATE TABLE IF NOT EXISTS bare (id bigserial primary key, body jsonb)")
    yield
    await app.state.pool.close()

app = FastAPI(lifespan=lifespan)

@app.post("/v1/customers", status_code=201)
async def create(request: Request):
    body = await request.json()
    row_id = await app.state.pool.fetchval("INSERT INTO bare (body) VALUES ($1) RETURNING id", json.dumps(body))
    return {"id": row_id}
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def a_customer(n: int) -> dict[str, object]:
    return {
        "kind": "person",
        "person_name": {"given": "Bench", "family": f"Mark{n}-{uuid.uuid4().hex[:8]}"},
        "date_of_birth": "1980-01-01",
        "contact": {
            "emails": [{"address": f"bench-{uuid.uuid4().hex}@example.com"}],
            "phones": [{"number": "+15555550100"}],
            "preferred_channel": "email",
            "consents": {"email": True},
            "time_zone": "America/Chicago",
        },
    }


async def wait_ready(url: str, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await client.get(url + path)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


async def drive(url: str, requests: int, concurrency: int, headers: dict[str, str]) -> tuple[float, list[float]]:
    bodies = [a_customer(n) for n in range(requests)]
    latencies: list[float] = []
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    "/v1/customers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, latencies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args()

    schemas = {name: f"bench_{name}_{uuid.uuid4().hex[:8]}" for name in ("registration", "bare")}
    admin = await asyncpg.connect(DSN)
    for schema in schemas.values():
        await admin.execute(f'CREATE SCHEMA "{schema}"')
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, tuple[float, list[float]]] = {}
    try:
        registration_port, bare_port = free_port(), free_port()
        bare_file = ROOT / ".run" / "bench_bare_app.py"
        bare_file.parent.mkdir(exist_ok=True)
        bare_file.write_text(BARE_APP)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "services.registration"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env,
                 "REGISTRATION_DATABASE_URL": f"{DSN}?search_path={schemas['registration']}",
                 "REGISTRATION_HTTP_PORT": str(registration_port), "REGISTRATION_ENVIRONMENT": "test",
                 "REGISTRATION_LOG_LEVEL": "WARNING",
                 "REGISTRATION_SEARCH_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
                 "REGISTRATION_BOUNCE_CONSUMER_GROUP": f"bench-bounces-{uuid.uuid4().hex[:8]}",
                 "REGISTRATION_API_TOKENS": f'{{"{TOKEN}": {{"system": "bench", "scopes": ["*"]}}}}'},
        ))
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench_bare_app:app", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log", "--app-dir", str(bare_file.parent)],
            cwd=ROOT, env={**env, "DSN": f"{DSN}?search_path={schemas['bare']}"},
        ))
        await wait_ready(f"http://127.0.0.1:{registration_port}", processes[0], "/health/ready")
        await wait_ready(f"http://127.0.0.1:{bare_port}", processes[1], "/docs")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        targets = {
            "registration": (f"http://127.0.0.1:{registration_port}", auth),
            "bare": (f"http://127.0.0.1:{bare_port}", {}),
        }
        for name, (url, headers) in targets.items():  # warm-up
            await drive(url, 100, arguments.concurrency, headers)
        for name, (url, headers) in targets.items():
            results[name] = await drive(url, arguments.requests, arguments.concurrency, headers)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        for schema in schemas.values():
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()

    print(f"POST /v1/customers, {arguments.requests} requests, {arguments.concurrency} concurrent clients")
    print(f"{'server':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, (rate, latencies) in results.items():
        ordered = sorted(latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        print(f"{name:<14}{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}")
    print(f"ratio registration/bare: {results['registration'][0] / results['bare'][0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
