"""End-to-end fixtures: real service processes against the real PostgreSQL and Kafka."""

from __future__ import annotations

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
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **overrides: str) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {**os.environ, **self.environment, **overrides}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.module} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
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
def registration_process(
    registration_schema: str, database_url: str, kafka_bootstrap: str, search_group: str, tmp_path: Path
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        module="services.registration",
        environment={
            "REGISTRATION_ENVIRONMENT": "test",
            "REGISTRATION_DATABASE_URL": f"{database_url}?search_path={registration_schema}",
            "REGISTRATION_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "REGISTRATION_HTTP_PORT": str(free_port()),
            "REGISTRATION_SEARCH_CONSUMER_GROUP": search_group,
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
