"""Apply the Kafka topic catalogue (deploy/topics.toml) to a cluster, idempotently.

Missing topics are created; for existing ones, retention.ms and cleanup.policy are brought in line
with the catalogue and partitions are added when the catalogue asks for more (Kafka cannot remove
partitions, so having more than the catalogue is only reported). Topics not in the catalogue are
left alone. One line per topic says what was done; the exit status is non-zero if anything failed.

    .venv/bin/python deploy/topics.py [--bootstrap 127.0.0.1:9092] [--catalogue deploy/topics.toml]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

DEFAULT_CATALOGUE = Path(__file__).with_name("topics.toml")
CLEANUP_POLICIES = {"delete", "compact", "compact,delete", "delete,compact"}
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
TOPIC_ALREADY_EXISTS = 36
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str
    description: str

    @property
    def configs(self) -> dict[str, str]:
        """The topic-level configs the catalogue owns."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


def load_catalogue(path: Path) -> list[TopicSpec]:
    with path.open("rb") as f:
        entries = tomllib.load(f).get("topics", [])
    specs = [
        TopicSpec(
            name=str(e["name"]),
            partitions=int(e["partitions"]),
            retention_ms=int(e["retention_ms"]),
            cleanup_policy=str(e["cleanup_policy"]),
            description=str(e.get("description", "")),
        )
        for e in entries
    ]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate topic names")
    for s in specs:
        if s.partitions < 1 or s.cleanup_policy not in CLEANUP_POLICIES:
            raise ValueError(f"{path}: invalid entry for {s.name}")
    return specs


def error_name(code: int) -> str:
    return str(for_code(code).__name__)


def warn(topic: str, message: str) -> None:
    print(f"{topic}: WARNING {message}", file=sys.stderr)


class Applier:
    def __init__(self, admin: AIOKafkaAdminClient, replication_factor: int) -> None:
        self.admin = admin
        self.replication_factor = replication_factor
        self.failed = False

    def report(self, topic: str, message: str, *, error: bool = False) -> None:
        print(f"{topic}: {message}", file=sys.stderr if error else sys.stdout)
        self.failed |= error

    async def apply(self, specs: list[TopicSpec]) -> None:
        described = await self.admin.describe_topics([s.name for s in specs])
        partitions = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
        await self.create([s for s in specs if s.name not in partitions])
        for spec in specs:
            if spec.name in partitions:
                await self.reconcile(spec, partitions[spec.name])

    async def create(self, specs: list[TopicSpec]) -> None:
        if not specs:
            return
        new = [
            NewTopic(s.name, s.partitions, self.replication_factor, topic_configs=s.configs)
            for s in specs
        ]
        response: Any = await self.admin.create_topics(new, timeout_ms=TIMEOUT_MS)
        by_name = {s.name: s for s in specs}
        for topic, code, *message in response.topic_errors:
            spec = by_name[topic]
            if code == 0:
                settings = ", ".join(f"{k}={v}" for k, v in spec.configs.items())
                self.report(topic, f"created ({spec.partitions} partitions, {settings})")
            elif code == TOPIC_ALREADY_EXISTS:  # created concurrently; check it next time
                self.report(topic, "already exists (created concurrently)")
            else:
                self.report(topic, f"create failed: {error_name(code)} {message}", error=True)

    async def reconcile(self, spec: TopicSpec, partition_count: int) -> None:
        changes: list[str] = []
        have, want = partition_count, spec.partitions
        if have < want:
            warn(spec.name, f"has {have} partitions, the catalogue says {want}; adding")
            await self.admin.create_partitions(
                {spec.name: NewPartitions(want)}, timeout_ms=TIMEOUT_MS
            )
            changes.append(f"partitions {have} -> {want}")
        elif have > want:
            warn(spec.name, f"has {have} partitions, the catalogue says {want}; cannot shrink")

        current = await self.topic_overrides(spec.name)
        drift = {k: v for k, v in spec.configs.items() if current.get(k) != v}
        if drift:
            # AlterConfigs (non-incremental) replaces all overrides, so send the others back too.
            configs = {**current, **spec.configs}
            resource = ConfigResource(ConfigResourceType.TOPIC, spec.name, configs)
            for response in await self.admin.alter_configs([resource]):
                for code, message, *_ in response.resources:
                    if code != 0:
                        reason = f"{error_name(code)} {message}"
                        self.report(spec.name, f"alter failed: {reason}", error=True)
                        return
            changes += [f"{k} {current.get(k, '(default)')} -> {v}" for k, v in drift.items()]
        self.report(spec.name, "altered: " + "; ".join(changes) if changes else "up to date")

    async def topic_overrides(self, topic: str) -> dict[str, str]:
        """Configs set on the topic itself (not broker defaults)."""
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        responses: Any = await self.admin.describe_configs([resource])
        overrides: dict[str, str] = {}
        for response in responses:
            for code, message, _type, _name, entries in response.resources:
                if code != 0:
                    raise RuntimeError(f"describe configs {topic}: {error_name(code)} {message}")
                for name, value, _read_only, source, *_ in entries:
                    if source == DYNAMIC_TOPIC_CONFIG and value is not None:
                        overrides[name] = value
        return overrides


async def run(bootstrap: str, catalogue: Path, replication_factor: int) -> int:
    specs = load_catalogue(catalogue)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
    await admin.start()
    try:
        applier = Applier(admin, replication_factor)
        await applier.apply(specs)
        return 1 if applier.failed else 0
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="host:port[,host:port]")
    parser.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE, help="TOML file")
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        help="replication factor of new topics (default 1: the local single broker)",
    )
    args = parser.parse_args()
    try:
        return asyncio.run(run(args.bootstrap, args.catalogue, args.replication_factor))
    except Exception as e:  # a one-line diagnosis beats a traceback for an operator tool
        print(f"topics: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
