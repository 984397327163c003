"""Collection agencies on the broker's agency listener (SASL/SCRAM-SHA-512, ACLs): an agency reads
its own placement topic with its own consumer groups and nothing else, and the platform's own
PLAINTEXT clients go on as before.

Every run provisions agencies of its own (ids iso-<random>), exactly as deploy/agencies.py does for
the catalogue, so runs never see each other's topics, users or groups, and revokes them (topic
included) when done."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from deploy.agencies import (
    AgencyAccess,
    agency_acls,
    describe_acls,
    provision_agency,
    revoke_agency,
)
from shared.envelope import EventEnvelope
from shared.kafka import reliable_consumer
from tests.integration.platform.conftest import TEST_TOPIC, TopicTail
from tests.polling import eventually

pytestmark = pytest.mark.integration

PLACED = "billing.collections.agency.v1.AccountEscalated"


@dataclass(frozen=True)
class Provisioned:
    access: AgencyAccess
    placement: EventEnvelope  # published to the agency's topic through the platform's listener


@asynccontextmanager
async def started(client: Any) -> AsyncIterator[Any]:
    """A started aiokafka client, stopped afterwards even when starting it failed half-way."""
    try:
        await client.start()
        yield client
    finally:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())


async def read(
    consumer: AIOKafkaConsumer, count: int, timeout: float = 20.0
) -> list[ConsumerRecord]:
    """The next ``count`` records the consumer gets; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    records: list[ConsumerRecord] = []
    while len(records) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(records)} of {count} records within {timeout}s")
        for batch in (await consumer.getmany(timeout_ms=200)).values():
            records.extend(batch)
    return records


def as_agency(access: AgencyAccess, *topics: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **access.client_config(),
    )


@pytest.fixture(scope="module")
async def provision(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> AsyncIterator[Callable[[], Awaitable[Provisioned]]]:
    """A new agency with one placement waiting on its topic; all of them revoked at the end."""
    made: list[str] = []

    async def make() -> Provisioned:
        agency_id = f"iso-{uuid.uuid4().hex[:8]}"
        made.append(agency_id)
        access = await provision_agency(agency_id, uuid.uuid4().hex, bootstrap=kafka_bootstrap)
        placement = EventEnvelope(
            id=uuid.uuid4(),
            type=PLACED,
            source="/billing/platform-tests",
            subject=f"customer-{agency_id}",
            time=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
            schema_version=1,
            data={"placement_id": str(uuid.uuid4()), "agency_id": agency_id},
        )
        await producer.send_and_wait(
            access.topic,
            placement.kafka_value(),
            key=placement.kafka_key(),
            headers=placement.kafka_headers(),
        )
        return Provisioned(access, placement)

    try:
        yield make
    finally:
        for agency_id in made:
            await revoke_agency(agency_id, bootstrap=kafka_bootstrap, delete_topic=True)


@pytest.fixture(scope="module")
async def agency(provision: Callable[[], Awaitable[Provisioned]]) -> Provisioned:
    return await provision()


@pytest.fixture(scope="module")
async def other_agency(provision: Callable[[], Awaitable[Provisioned]]) -> Provisioned:
    return await provision()


async def test_an_agency_reads_its_own_topic_with_a_group_of_its_own(agency: Provisioned) -> None:
    access = agency.access
    consumer = as_agency(access, access.topic, group=f"{access.group_prefix}reader")
    async with started(consumer):
        [record] = await read(consumer, 1)
        await consumer.commit()

    assert EventEnvelope.from_kafka(record.key, record.value, record.headers) == agency.placement
    assert dict(record.headers)["ce_type"] == PLACED.encode()


async def test_an_agency_has_exactly_its_three_acls(
    agency: Provisioned, kafka_bootstrap: str
) -> None:
    client = AIOKafkaClient(bootstrap_servers=kafka_bootstrap)
    await client.bootstrap()
    try:
        acls = await describe_acls(client, agency.access.principal)
    finally:
        await client.close()

    described = sorted(
        (a.resource_type, a.resource_name, a.pattern_type, a.operation, a.permission, a.host)
        for a in acls
    )
    topic, prefix = agency.access.topic, agency.access.group_prefix
    # TOPIC = 2, GROUP = 3; LITERAL = 3, PREFIXED = 4; READ = 3, DESCRIBE = 8; ALLOW = 3
    assert described == [
        (2, topic, 3, 3, 3, "*"),
        (2, topic, 3, 8, 3, "*"),
        (3, prefix, 4, 3, 3, "*"),
    ]
    assert acls == agency_acls(agency.access)


@pytest.mark.parametrize("topic", ["payments.events", "collections.events", TEST_TOPIC])
async def test_an_agency_cannot_read_a_platform_topic(agency: Provisioned, topic: str) -> None:
    access = agency.access
    with pytest.raises(TopicAuthorizationFailedError) as refused:
        async with started(as_agency(access, topic, group=f"{access.group_prefix}reader")) as c:
            await read(c, 1, timeout=5)

    assert topic in str(refused.value)


async def test_an_agency_cannot_read_another_agencys_topic(
    agency: Provisioned, other_agency: Provisioned
) -> None:
    access, theirs = agency.access, other_agency.access.topic
    with pytest.raises(TopicAuthorizationFailedError) as refused:
        async with started(as_agency(access, theirs, group=f"{access.group_prefix}reader")) as c:
            await read(c, 1, timeout=5)

    assert theirs in str(refused.value)


async def test_an_agency_cannot_use_a_group_outside_its_prefix(
    agency: Provisioned, other_agency: Provisioned
) -> None:
    access = agency.access
    for group in (
        f"{other_agency.access.group_prefix}reader",  # another agency's
        f"agency.{access.username}.reader",  # looks alike, is not its prefix
        f"platform-tests.agency-isolation.{uuid.uuid4().hex[:8]}",  # a platform-style group
    ):
        with pytest.raises(GroupAuthorizationFailedError) as refused:
            async with started(as_agency(access, access.topic, group=group)) as consumer:
                await read(consumer, 1, timeout=5)
        assert group in str(refused.value)


async def test_an_agency_cannot_look_at_the_platforms_consumer_groups(agency: Provisioned) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        async with started(AIOKafkaAdminClient(**agency.access.client_config())) as admin:
            await admin.list_consumer_group_offsets("payments.feeds")


async def test_an_agency_cannot_write_even_to_its_own_topic(agency: Provisioned) -> None:
    access = agency.access
    # Not idempotent: the write itself is what is refused (an idempotent producer is turned away
    # earlier, asking for a producer id, with ClusterAuthorizationFailedError).
    writer = AIOKafkaProducer(enable_idempotence=False, **access.client_config())
    with pytest.raises(TopicAuthorizationFailedError) as refused:
        async with started(writer):
            await writer.send_and_wait(access.topic, b'{"forged": true}', key=b"forged")

    assert access.topic in str(refused.value)


async def test_a_wrong_password_is_refused(agency: Provisioned) -> None:
    access = agency.access
    wrong_password = AgencyAccess(**{**access.as_json(), "password": "not-" + access.password})

    refused = await login(wrong_password)

    assert isinstance(refused, SaslAuthenticationFailed)
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in str(refused)
    assert await login(access) is None  # the right one is let in

    # A client with the wrong password never gets as far as the broker's metadata.
    consumer = AIOKafkaConsumer(
        access.topic, group_id=f"{access.group_prefix}reader", **wrong_password.client_config()
    )
    with pytest.raises(KafkaConnectionError):
        async with started(consumer):
            pass


async def test_provisioning_again_changes_nothing(
    agency: Provisioned, kafka_bootstrap: str
) -> None:
    access = agency.access
    agency_id = access.username.removeprefix("agency-")
    lines: list[str] = []

    again = await provision_agency(
        agency_id, access.password, bootstrap=kafka_bootstrap, report=lines.append
    )

    assert again == access
    assert f"topic {access.topic}: up to date" in lines
    assert "ACLs up to date (3)" in lines


async def login(access: AgencyAccess) -> BaseException | None:
    """What logging in on the agency listener raised, if anything."""
    host, port = access.bootstrap.rsplit(":", 1)
    try:
        conn = await create_conn(
            host,
            int(port),
            security_protocol=access.security_protocol,
            sasl_mechanism=access.sasl_mechanism,
            sasl_plain_username=access.username,
            sasl_plain_password=access.password,
        )
    except SaslAuthenticationFailed as refused:
        return refused
    conn.close()
    return None


async def test_a_revoked_agency_can_no_longer_log_in_or_read(
    provision: Callable[[], Awaitable[Provisioned]], kafka_bootstrap: str
) -> None:
    access = (await provision()).access
    assert await login(access) is None
    reader = as_agency(access, access.topic, group=f"{access.group_prefix}reader")
    async with started(reader):
        await read(reader, 1)  # connected and reading before its access goes

        await revoke_agency(access.username.removeprefix("agency-"), bootstrap=kafka_bootstrap)

        # The broker applies the controller's records a moment after the controller answered.
        refused = await eventually(lambda: login(access), message="the login refused")
        assert "invalid credentials" in str(refused)
        # The ACLs went before the credential, so the connection it already had is refused too.
        with pytest.raises(TopicAuthorizationFailedError):
            await reader.end_offsets(list(reader.assignment()))


async def test_the_platforms_plaintext_clients_work_as_before(
    agency: Provisioned,
    producer: AIOKafkaProducer,
    tail_topic: Callable[[str], Awaitable[TopicTail]],
    kafka_bootstrap: str,
) -> None:
    # Publishing and tailing a platform topic, as the relays and tests do.
    tail = await tail_topic(TEST_TOPIC)
    key = f"agency-isolation-{uuid.uuid4().hex}".encode()
    await producer.send_and_wait(TEST_TOPIC, b'{"n": 1}', key=key)
    [record] = await tail.collect(lambda r: r.key == key, 1)
    assert record.value == b'{"n": 1}'

    # A platform consumer group (any name) reads an agency's topic and commits, as the services'
    # consumers do with theirs.
    group = f"platform-tests.agency-isolation.{uuid.uuid4().hex[:8]}"
    consumer = reliable_consumer(
        kafka_bootstrap, agency.access.topic, group_id=group, client_id="platform-tests"
    )
    async with started(consumer):
        [placement] = await read(consumer, 1)
        await consumer.commit()
    assert placement.value == agency.placement.kafka_value()
