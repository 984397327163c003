"""End-to-end fixtures: real service processes against the real PostgreSQL and Kafka."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.kafka import records_until_end, topic_partitions
from tests.kafka_groups import start_group_at_end
from tests.schemas import scratch_schema

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    """One service run as operators run it: `python -m services.<name>` with its environment."""

    module: str
    environment: dict[str, str]
    port: int
    log_path: Path
    arguments: tuple[str, ...] = ()
    ready_path: str = "/health/ready"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **overrides: str) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {**os.environ, **self.environment, **overrides}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.arguments], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.module} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling readiness with a deadline
        raise AssertionError(f"{self.module} not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def environment_for_tools(self) -> dict[str, str]:
        """The environment an operator's tool needs to work on this service's stores."""
        return {**os.environ, **self.environment}

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


async def find_on_kafka(bootstrap: str, topic: str, event_id: str) -> list[tuple[int, int]]:
    """(partition, offset) of every record on ``topic`` whose ce_id is ``event_id``."""
    partitions = await topic_partitions(bootstrap, topic)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        return [
            (record.partition, record.offset)
            async for record in records_until_end(reader, partitions)
            if dict(record.headers).get("ce_id", b"").decode() == event_id
        ]
    finally:
        await reader.stop()


def console_consumer(bootstrap: str, topic: str, partition: int, offset: int) -> tuple[str, str, str]:
    """The record at ``partition``/``offset`` as Kafka's own kafka-console-consumer prints it:
    (headers, key, value)."""
    printed = subprocess.run(
        [
            str(ROOT / "deploy" / "kafka.sh"), "console-consumer",
            "--bootstrap-server", bootstrap, "--topic", topic,
            "--partition", str(partition), "--offset", str(offset), "--max-messages", "1",
            "--property", "print.headers=true", "--property", "print.key=true",
        ],
        capture_output=True, text=True, timeout=120, check=True,
    )
    headers, key, value = printed.stdout.strip().splitlines()[0].split("\t")
    return headers, key, value


@pytest.fixture
async def registration_schema(database_url: str) -> AsyncIterator[str]:
    async with scratch_schema(database_url, "e2e") as schema:
        yield schema


@pytest.fixture
async def search_group(kafka_bootstrap: str) -> str:
    group_id = f"registration.search-projection.e2e-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(kafka_bootstrap, group_id, "registration.events")
    return group_id


@pytest.fixture
async def bounce_group(kafka_bootstrap: str) -> str:
    group_id = f"registration.bounce-feed.e2e-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(kafka_bootstrap, group_id, "invoicing.events")
    return group_id


@pytest.fixture
def registration_process(
    registration_schema: str, database_url: str, kafka_bootstrap: str, search_group: str, bounce_group: str,
    tmp_path: Path,
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        module="services.registration",
        environment={
            "REGISTRATION_ENVIRONMENT": "test",
            "REGISTRATION_DATABASE_URL": f"{database_url}?search_path={registration_schema}",
            "REGISTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "REGISTRATION_HTTP_PORT": str(free_port()),
            "REGISTRATION_SEARCH_CONSUMER_GROUP": search_group,
            "REGISTRATION_BOUNCE_CONSUMER_GROUP": bounce_group,
            "REGISTRATION_API_TOKENS": f'{{"{TOKEN}": {{"system": "e2e", "scopes": ["registration:read", "registration:write"]}}}}',
            "REGISTRATION_RELAY_POLL_INTERVAL_SECONDS": "0.5",
        },
        port=0,
        log_path=tmp_path / "registration.log",
    )
    service.port = int(service.environment["REGISTRATION_HTTP_PORT"])
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def clearinghouse_process(tmp_path: Path) -> Iterator[ServiceProcess]:
    """The payer simulator, standing in for a clearinghouse, as `make run` serves it."""
    port = free_port()
    simulator = ServiceProcess(
        module="simulators.clearinghouse", environment={}, port=port,
        log_path=tmp_path / "clearinghouse.log", arguments=("--port", str(port)), ready_path="/health",
    )
    try:
        yield simulator
    finally:
        simulator.stop()


@contextlib.asynccontextmanager
async def service_in_scratch_schema(
    name: str, consumer: tuple[str, str, tuple[str, ...]], scopes: list[str], settings: dict[str, str],
    database_url: str, kafka_bootstrap: str, tmp_path: Path,
) -> AsyncIterator[ServiceProcess]:
    """``services.<name>`` as operators run it, in its own schema, its consumer group
    (``consumer``: the setting, the group's name, its topics) reading only what comes from now on."""
    setting, group, topics = consumer
    group_id = f"{group}.e2e-{uuid.uuid4().hex[:8]}"
    for topic in topics:
        await start_group_at_end(kafka_bootstrap, group_id, topic)
    prefix = name.upper()
    async with scratch_schema(database_url, f"e2e_{name}") as schema:
        port = free_port()
        service = ServiceProcess(
            module=f"services.{name}",
            environment={
                f"{prefix}_ENVIRONMENT": "test",
                f"{prefix}_DATABASE_URL": f"{database_url}?search_path={schema}",
                f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                f"{prefix}_HTTP_PORT": str(port),
                f"{prefix}_{setting}": group_id,
                f"{prefix}_API_TOKENS": json.dumps({TOKEN: {"system": "e2e", "scopes": scopes}}),
                f"{prefix}_RELAY_POLL_INTERVAL_SECONDS": "0.5",
                **{f"{prefix}_{key}": value for key, value in settings.items()},
            },
            port=port,
            log_path=tmp_path / f"{name}.log",
        )
        try:
            yield service
        finally:
            service.stop()


@pytest.fixture
async def eligibility_process(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    async with service_in_scratch_schema(
        "eligibility", ("REGISTRATION_CONSUMER_GROUP", "eligibility.registration-feed", ("registration.events",)),
        ["eligibility:read", "eligibility:write"], {"VERIFIER_POLL_INTERVAL_SECONDS": "0.2"},
        database_url, kafka_bootstrap, tmp_path,
    ) as service:
        yield service


@pytest.fixture
async def invoicing_process(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    """Invoicing as operators run it, reading registration, eligibility and payments from now on."""
    async with service_in_scratch_schema(
        "invoicing",
        ("FEEDS_CONSUMER_GROUP", "invoicing.feeds", ("registration.events", "eligibility.events", "payments.events")),
        ["invoicing:read", "invoicing:write", "invoicing:operate"], {"DELIVERY_POLL_INTERVAL_SECONDS": "0.2"},
        database_url, kafka_bootstrap, tmp_path,
    ) as service:
        yield service


@pytest.fixture
async def payments_process(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    """Payments as operators run it, reading invoicing's and collections' events from now on."""
    async with service_in_scratch_schema(
        "payments", ("FEEDS_CONSUMER_GROUP", "payments.feeds", ("invoicing.events", "collections.events")),
        ["payments:read", "payments:write", "payments:operate"], {},
        database_url, kafka_bootstrap, tmp_path,
    ) as service:
        yield service


@pytest.fixture
async def collections_process(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    """Collections as operators run it, reading registration, invoicing and payments from now on.
    Its scheduler hardly ever runs on its own: tests drive dunning runs over HTTP, at the moments
    they choose. The policy file, the agencies' tokens and the mail server are the test's to give
    at ``start``."""
    async with service_in_scratch_schema(
        "collections",
        ("FEEDS_CONSUMER_GROUP", "collections.feeds", ("registration.events", "invoicing.events", "payments.events")),
        ["collections:read", "collections:write", "collections:operate"],
        {"DELIVERY_POLL_INTERVAL_SECONDS": "0.2", "DUNNING_INTERVAL_SECONDS": "86400"},
        database_url, kafka_bootstrap, tmp_path,
    ) as service:
        yield service
