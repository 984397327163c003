"""Reference consumer for a collection agency: read your placements, acknowledge them, report what
you collected. Standalone: it needs only Python 3.11, aiokafka and httpx.

It logs in on the broker's agency listener (SASL_PLAINTEXT, SCRAM-SHA-512) with the agency's own
credentials and reads the agency's topic ``collections.agency.<id>`` in a consumer group of its own
(``agency.<id>.*``). For every message it prints one JSON line on stdout,
``{"type": <ce_type header>, "key": <key>, "data": <the JSON value>}``, and for every placement
(``billing.collections.agency.v1.AccountEscalated``) it

- acknowledges it: ``POST {api}/v1/agency/placements/{placement_id}/acknowledgement`` with
  ``{"agency_reference": "<id>-<placement id>"}``;
- with ``--pay AMOUNT``, reports a payment of AMOUNT minor units in the placement's currency,
  collected today: ``POST {api}/v1/agency/placements/{placement_id}/payments``, and prints
  ``{"reported": <the answer>}``.

Both requests carry ``Authorization: Bearer <token>`` and an ``Idempotency-Key`` derived from the
placement id, so handling a message again (after a crash, before its offset was committed) repeats
exactly the same requests and the API answers them as the first time. The offset is committed after
each message is handled. A non-2xx answer is printed on stderr and stops the program with exit
status 1, that message not committed: the next run starts with it again. ``--max-messages N``
counts every message read (placements, recalls, anything else on the topic).

    python agency_consumer.py --credentials northwind.json --api http://127.0.0.1:8005 \\
        --token "$AGENCY_TOKEN" [--pay 2500] [--max-messages N] [--timeout SECONDS]

Settings come from the options, else from the environment (AGENCY_BOOTSTRAP, AGENCY_USERNAME,
AGENCY_PASSWORD, AGENCY_TOPIC, AGENCY_GROUP, AGENCY_API, AGENCY_TOKEN), else from the credentials
file (``--credentials``, or AGENCY_CREDENTIALS: the JSON the platform hands over, with username,
password, topic, group_prefix and bootstrap). Prefer the environment or the file for the password:
options are visible to other users of the machine.

Exit status: 0 when it stopped after --max-messages or --timeout, 1 after a message it could not
handle (a non-2xx answer or no answer from the API, a placement without its placement_id or
currency), 2 when it could not start or lost the broker (bad settings, refused login).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

PLACEMENT = "billing.collections.agency.v1.AccountEscalated"
# Idempotency keys are UUIDs derived from the placement id in this namespace: the same placement
# always gives the same key, on any machine and in any run.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f9d3e-2a47-4c61-8f0e-1d7a6c3b9e20")
USERNAME_PREFIX = "agency-"
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
SASL_MECHANISM = "SCRAM-SHA-512"

EXIT_OK, EXIT_NOT_HANDLED, EXIT_CANNOT_START = 0, 1, 2


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    bootstrap: str
    username: str
    password: str
    topic: str
    group: str
    api: str
    token: str
    pay: int | None = None
    max_messages: int | None = None
    timeout: float | None = None

    @property
    def agency_id(self) -> str:
        return self.username.removeprefix(USERNAME_PREFIX)


def parse_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from ``argv``, then ``environ``, then the credentials file; SettingsError when
    something is missing or inconsistent (e.g. a group outside the agency's prefix)."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--credentials", help="the JSON file the platform handed over")
    parser.add_argument("--bootstrap", help="the agency listener, host:port")
    parser.add_argument("--username", help="agency-<id>")
    parser.add_argument("--password")
    parser.add_argument("--topic", help="default: collections.agency.<id>")
    parser.add_argument("--group", help="consumer group, agency.<id>.<anything>; "
                        "default: agency.<id>.placements")
    parser.add_argument("--api", help="the collections API's base URL, e.g. http://127.0.0.1:8005")
    parser.add_argument("--token", help="bearer token for the API")
    parser.add_argument("--pay", type=int, metavar="MINOR_UNITS",
                        help="report a payment of this amount for every placement read")
    parser.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop after this long (default: run until interrupted)")
    args = parser.parse_args(argv)

    credentials_path = args.credentials or env.get("AGENCY_CREDENTIALS")
    credentials: dict[str, Any] = {}
    if credentials_path:
        try:
            credentials = json.loads(Path(credentials_path).read_text())
        except (OSError, ValueError) as e:
            raise SettingsError(f"cannot read credentials {credentials_path}: {e}") from e

    def setting(name: str, *, file_key: str | None = None) -> str | None:
        value = getattr(args, name) or env.get(f"AGENCY_{name.upper()}")
        if not value and file_key:
            value = credentials.get(file_key)
        return str(value) if value else None

    username = setting("username", file_key="username")
    if not username or not username.startswith(USERNAME_PREFIX):
        raise SettingsError(f"--username must be {USERNAME_PREFIX}<agency id>, got {username!r}")
    agency_id = username.removeprefix(USERNAME_PREFIX)
    group_prefix = f"agency.{agency_id}."
    group = setting("group") or f"{group_prefix}placements"
    if not group.startswith(group_prefix) or group == group_prefix:
        raise SettingsError(f"--group must start with {group_prefix} (got {group!r}): "
                            "the broker refuses any other group to this agency")
    found = {
        "bootstrap": setting("bootstrap", file_key="bootstrap"),
        "password": setting("password", file_key="password"),
        "topic": setting("topic", file_key="topic") or f"collections.agency.{agency_id}",
        "api": setting("api"),
        "token": setting("token"),
    }
    missing = [f"--{name}" for name, value in found.items() if not value]
    if missing:
        raise SettingsError("missing " + ", ".join(missing))
    if args.pay is not None and args.pay <= 0:
        raise SettingsError("--pay must be a positive amount of minor units")
    if args.max_messages is not None and args.max_messages < 1:
        raise SettingsError("--max-messages must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise SettingsError("--timeout must be positive")
    return Settings(
        bootstrap=str(found["bootstrap"]), username=username, password=str(found["password"]),
        topic=str(found["topic"]), group=group, api=str(found["api"]).rstrip("/"),
        token=str(found["token"]), pay=args.pay, max_messages=args.max_messages,
        timeout=args.timeout,
    )


def idempotency_key(placement_id: str, what: str) -> str:
    """The same key for the same request about the same placement, every time."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{placement_id}/{what}"))


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode("utf-8") if value is not None else None
    return None


def decode(raw: bytes | None) -> Any:
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class NotHandled(Exception):
    """A message could not be handled: the API answered a request with a non-2xx status, or not at
    all, or a placement lacks what the contract promises."""


class ApiRefused(NotHandled):
    pass


class PlacementHandler:
    """What the agency does with each message: print it; acknowledge placements and, if asked,
    report a payment for them."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        out: TextIO = sys.stdout,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.settings = settings
        self.http = http
        self.out = out
        self.today = today

    def emit(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.out.flush()

    async def handle(self, record: ConsumerRecord) -> None:
        """Raises NotHandled (ApiRefused when the API did not take a request)."""
        event_type = header(record, "ce_type")
        data = decode(record.value)
        key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
        self.emit({"type": event_type, "key": key, "data": data})
        if event_type != PLACEMENT:
            return
        try:
            placement_id = str(data["placement_id"])
            currency = str(data["itemization"]["currency"])
        except (KeyError, TypeError) as e:
            raise NotHandled(f"placement at offset {record.offset} lacks {e}") from e
        await self.post(
            f"/v1/agency/placements/{placement_id}/acknowledgement",
            {"agency_reference": f"{self.settings.agency_id}-{placement_id}"},
            idempotency_key=idempotency_key(placement_id, "acknowledgement"),
        )
        if self.settings.pay is not None:
            answer = await self.post(
                f"/v1/agency/placements/{placement_id}/payments",
                {
                    "amount": self.settings.pay,
                    "currency": currency,
                    "collected_on": self.today().isoformat(),
                    "reference": f"{self.settings.agency_id}-payment-{placement_id}",
                },
                idempotency_key=idempotency_key(placement_id, "payment"),
            )
            self.emit({"reported": answer})

    async def post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> Any:
        try:
            response = await self.http.post(
                path, json=body, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.HTTPError as e:
            raise ApiRefused(f"POST {path}: no answer: {type(e).__name__}: {e}") from e
        if not response.is_success:
            raise ApiRefused(f"POST {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.api,
        headers={"Authorization": f"Bearer {settings.token}"},
        timeout=30.0,
        transport=transport,
    )


def kafka_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        settings.topic,
        bootstrap_servers=settings.bootstrap,
        security_protocol=SECURITY_PROTOCOL,
        sasl_mechanism=SASL_MECHANISM,
        sasl_plain_username=settings.username,
        sasl_plain_password=settings.password,
        group_id=settings.group,
        enable_auto_commit=False,  # committed by hand, after each message is handled
        auto_offset_reset="earliest",  # a new group starts with the first placement
        isolation_level="read_committed",
    )


async def run(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    today: Callable[[], date] = date.today,
) -> int:
    """Read and handle messages until --max-messages or --timeout; the exit status."""
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    consumer = kafka_consumer(settings)
    try:
        await consumer.start()
    except KafkaError as e:
        await consumer.stop()
        print(f"agency_consumer: cannot read {settings.topic} as {settings.username} on "
              f"{settings.bootstrap}: {type(e).__name__}: {e}", file=err)
        return EXIT_CANNOT_START
    handled = 0
    try:
        async with http_client(settings, transport) as http:
            handler = PlacementHandler(settings, http, out=out, today=today)
            while settings.max_messages is None or handled < settings.max_messages:
                wait_ms = 1000
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait_ms = max(1, min(wait_ms, int(left * 1000)))
                batches = await consumer.getmany(timeout_ms=wait_ms)
                for partition, records in batches.items():
                    for record in records:
                        try:
                            await handler.handle(record)
                        except NotHandled as e:  # not committed: the next run starts with it
                            print(f"agency_consumer: {e}", file=err)
                            return EXIT_NOT_HANDLED
                        await consumer.commit({partition: record.offset + 1})
                        handled += 1
                        if settings.max_messages is not None and handled >= settings.max_messages:
                            return EXIT_OK  # what was fetched beyond is left for the next run
    except KafkaError as e:
        print(f"agency_consumer: {type(e).__name__}: {e}", file=err)
        return EXIT_CANNOT_START
    finally:
        await consumer.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = parse_args(argv)
    except SettingsError as e:
        print(f"agency_consumer: {e}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
