"""Give collection agencies their access to the broker, idempotently.

Agencies are outside parties. Each one logs in on the broker's agency listener (SASL_PLAINTEXT,
SCRAM-SHA-512) as ``User:agency-<id>`` and may read its placement topic ``collections.agency.<id>``
with consumer groups named ``agency.<id>.*``, and nothing else. For every agency this makes sure of:

- the topic ``collections.agency.<id>`` (1 to 3 partitions, kept forever, cleanup delete), applied
  like the topic catalogue (deploy/topics.py); only the collections service writes it;
- the SCRAM-SHA-512 credential of user ``agency-<id>`` (set again on every run, with a new salt);
- exactly these ACLs for ``User:agency-<id>``, any host: ALLOW Read and Describe on the topic
  (LITERAL), ALLOW Read on groups prefixed ``agency.<id>.`` (PREFIXED); any other ACL of that
  principal is removed;

then waits until the agency can log in and sees its topic, so whoever provisions can hand the
credentials over at once. ``revoke_agency`` (``--revoke ID``) takes the ACLs and the credential
away again, and with ``--delete-topic`` the topic. The platform's own clients reach the broker on
the PLAINTEXT listener, whose principal is a super user (deploy/kafka/server.properties.template).

As a program it reads the agencies of the collections catalogue (``[[agencies]]`` tables with an
``id`` and a ``name``; other keys and tables are not this tool's), generates each agency's password
the first time and keeps it, with what the agency needs to connect, in ``<secrets-dir>/<id>.json``
(mode 0600), re-using it on later runs; deploy/infra.sh up runs it after the topics:

    .venv/bin/python deploy/agencies.py [--catalogue deploy/collections.toml]
        [--secrets-dir .run/agencies] [--bootstrap 127.0.0.1:9092]
        [--agency-bootstrap 127.0.0.1:9094]
    .venv/bin/python deploy/agencies.py --revoke ID [--delete-topic] [--secrets-dir .run/agencies]

From Python (a coroutine, e.g. in a test)::

    from deploy.agencies import provision_agency
    access = await provision_agency("northwind", password)
    consumer = AIOKafkaConsumer(access.topic, group_id=access.group_prefix + "reader",
                                **access.client_config())

Credentials and ACLs go through the Kafka protocol (CreateAcls, DescribeAcls, DeleteAcls,
AlterUserScramCredentials) on aiokafka's connection, which takes milliseconds where the Java tools
(kafka-configs, kafka-acls) would start a JVM each. The same state, seen with those tools:

    deploy/kafka.sh acls --bootstrap-server 127.0.0.1:9092 --list --principal User:agency-northwind
    deploy/kafka.sh configs --bootstrap-server 127.0.0.1:9092 --describe --entity-type users
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project's `deploy` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from deploy.topics import Applier, TopicSpec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGUE = ROOT / "deploy" / "collections.toml"
DEFAULT_SECRETS_DIR = ROOT / ".run" / "agencies"

AGENCY_ID = re.compile(r"[a-z0-9-]+")
TOPIC_PREFIX = "collections.agency."
MAX_PARTITIONS = 3
SECURITY_PROTOCOL = "SASL_PLAINTEXT"
SASL_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192  # Kafka accepts 4096..16384 for SCRAM-SHA-512
READY_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_MS = 30_000


def default_agency_bootstrap() -> str:
    """The broker's agency listener as deploy/kafka.sh runs it locally (KAFKA_AGENCY_PORT)."""
    return f"127.0.0.1:{os.environ.get('KAFKA_AGENCY_PORT', '9094')}"


@dataclass(frozen=True)
class AgencyAccess:
    """What an agency needs to read its placements: the credentials handed to it."""

    username: str
    password: str = field(repr=False)
    topic: str
    group_prefix: str
    bootstrap: str
    security_protocol: str = SECURITY_PROTOCOL
    sasl_mechanism: str = SASL_MECHANISM

    @property
    def principal(self) -> str:
        return f"User:{self.username}"

    def client_config(self) -> dict[str, str]:
        """Keyword arguments for aiokafka's clients connecting as the agency."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def agency_access(agency_id: str, password: str, bootstrap: str | None = None) -> AgencyAccess:
    """The names that go with an agency id; refuses an id that is not lowercase [a-z0-9-]+."""
    if not AGENCY_ID.fullmatch(agency_id):
        raise ValueError(f"agency id {agency_id!r} is not lowercase letters, digits and '-'")
    if not password:
        raise ValueError(f"agency {agency_id}: empty password")
    return AgencyAccess(
        username=f"agency-{agency_id}",
        password=password,
        topic=f"{TOPIC_PREFIX}{agency_id}",
        group_prefix=f"agency.{agency_id}.",
        bootstrap=bootstrap or default_agency_bootstrap(),
    )


# --- ACLs -----------------------------------------------------------------------------------------
# The Kafka protocol's codes (org.apache.kafka.common.resource / .acl).


class ResourceType(IntEnum):
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


class Permission(IntEnum):
    ANY = 1
    DENY = 2
    ALLOW = 3


def _name(enum: type[IntEnum], code: int) -> str:
    try:
        return enum(code).name
    except ValueError:
        return str(code)


@dataclass(frozen=True)
class Acl:
    """One ACL binding of a principal."""

    resource_type: int
    resource_name: str
    pattern_type: int
    operation: int
    permission: int = Permission.ALLOW
    host: str = "*"

    def __str__(self) -> str:
        return (
            f"{_name(Permission, self.permission)} {_name(Operation, self.operation)} on "
            f"{_name(ResourceType, self.resource_type)} {self.resource_name!r} "
            f"({_name(PatternType, self.pattern_type)}, host {self.host})"
        )


def agency_acls(access: AgencyAccess) -> frozenset[Acl]:
    """Exactly what an agency may do: read its topic, with its own consumer groups."""
    return frozenset(
        {
            Acl(ResourceType.TOPIC, access.topic, PatternType.LITERAL, Operation.READ),
            Acl(ResourceType.TOPIC, access.topic, PatternType.LITERAL, Operation.DESCRIBE),
            Acl(ResourceType.GROUP, access.group_prefix, PatternType.PREFIXED, Operation.READ),
        }
    )


def _check(code: int, message: str | None, doing: str) -> None:
    if code != 0:
        raise RuntimeError(f"{doing}: {for_code(code).__name__} {message or ''}".rstrip())


async def describe_acls(client: AIOKafkaClient, principal: str) -> frozenset[Acl]:
    """Every ACL of ``principal``, as the broker answering enforces them."""
    request = DescribeAclsRequest(
        resource_type=ResourceType.ANY,
        resource_name=None,  # type: ignore[arg-type]  # null: any name
        resource_pattern_type_filter=PatternType.ANY,
        principal=principal,
        host=None,  # type: ignore[arg-type]  # null: any host
        operation=Operation.ANY,
        permission_type=Permission.ANY,
    )
    response: Any = await client.send(client.get_random_node(), request)
    _check(response.error_code, response.error_message, f"describe ACLs of {principal}")
    return frozenset(
        Acl(resource_type, name, pattern, operation, permission, host)
        for resource_type, name, pattern, acls in response.resources
        for acl_principal, host, operation, permission in acls
        if acl_principal == principal
    )


async def create_acl(client: AIOKafkaClient, principal: str, acl: Acl) -> None:
    request = CreateAclsRequest(
        acl.resource_type, acl.resource_name, acl.pattern_type, principal, acl.host,
        acl.operation, acl.permission,
    )
    response: Any = await client.send(client.get_random_node(), request)
    for code, message in response.creation_responses:
        _check(code, message, f"create ACL {acl} for {principal}")


async def delete_acl(client: AIOKafkaClient, principal: str, acl: Acl) -> None:
    request = DeleteAclsRequest(
        acl.resource_type, acl.resource_name, acl.pattern_type, principal, acl.host,
        acl.operation, acl.permission,
    )
    response: Any = await client.send(client.get_random_node(), request)
    for code, message, matching in response.filter_responses:
        _check(code, message, f"delete ACL {acl} of {principal}")
        for item_code, item_message, *_ in matching:
            _check(item_code, item_message, f"delete ACL {acl} of {principal}")


# --- SCRAM credentials ----------------------------------------------------------------------------
# AlterUserScramCredentials (KIP-554), which aiokafka does not ship. The client salts and hashes
# the password (RFC 5802 Hi(), i.e. PBKDF2-HMAC); the broker stores only that.


class AlterUserScramCredentialsResponse_v0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user_name", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest_v0(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("tags", TaggedFields),
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest(Request[AlterUserScramCredentialsRequest_v0]):
    API_KEY = 51
    SCRAM_SHA_512 = 2  # org.apache.kafka.clients.admin.ScramMechanism

    def __init__(
        self, user: str, password: str | None, iterations: int = SCRAM_ITERATIONS
    ) -> None:
        """Set ``user``'s SCRAM-SHA-512 credential to ``password``; delete it if None."""
        self.user = user
        self.delete = password is None
        self.iterations = iterations
        self.salt = secrets.token_bytes(32)
        self.salted_password = b"" if password is None else hashlib.pbkdf2_hmac(
            "sha512", password.encode("utf-8"), self.salt, iterations
        )

    def build(
        self, request_struct_class: type[AlterUserScramCredentialsRequest_v0]
    ) -> AlterUserScramCredentialsRequest_v0:
        if self.delete:
            return request_struct_class([(self.user, self.SCRAM_SHA_512, {})], [], {})
        upsertion = (
            self.user, self.SCRAM_SHA_512, self.iterations, self.salt, self.salted_password, {}
        )
        return request_struct_class([], [upsertion], {})


RESOURCE_NOT_FOUND = 91  # deleting a credential the user does not have


async def set_scram_credential(client: AIOKafkaClient, user: str, password: str | None) -> bool:
    """Set (or, with None, delete) ``user``'s SCRAM-SHA-512 credential; False if there was none
    to delete."""
    request = AlterUserScramCredentialsRequest(user, password)
    response: Any = await client.send(client.get_random_node(), request)
    for _user, code, message, _tags in response.results:
        if password is None and code == RESOURCE_NOT_FOUND:
            return False
        doing = "delete" if password is None else "set"
        _check(code, message, f"{doing} the {SASL_MECHANISM} credential of {user}")
    return True


# --- provisioning ---------------------------------------------------------------------------------


class _TopicApplier(Applier):
    """deploy/topics.py's applier, keeping its report lines instead of printing them."""

    def __init__(self, admin: AIOKafkaAdminClient, replication_factor: int) -> None:
        super().__init__(admin, replication_factor)
        self.lines: list[str] = []

    def report(self, topic: str, message: str, *, error: bool = False) -> None:
        self.lines.append(message)
        self.failed |= error


def agency_topic(access: AgencyAccess, partitions: int) -> TopicSpec:
    return TopicSpec(
        name=access.topic,
        partitions=partitions,
        retention_ms=-1,
        cleanup_policy="delete",
        description=f"Placements for agency {access.username}, written by collections only",
    )


async def agency_can_read(access: AgencyAccess) -> str | None:
    """None once the agency logs in and sees its topic; otherwise why not (yet)."""
    admin = AIOKafkaAdminClient(**access.client_config(), request_timeout_ms=5_000)
    try:
        await admin.start()
        described = await admin.describe_topics([access.topic])
    except (TimeoutError, KafkaError, OSError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        await admin.close()
    codes = [t["error_code"] for t in described if t["topic"] == access.topic]
    if codes != [0]:
        return f"its topic answers {[for_code(c).__name__ for c in codes]}"
    return None


async def wait_until_ready(
    client: AIOKafkaClient, access: AgencyAccess, timeout: float = READY_TIMEOUT_SECONDS
) -> None:
    """The broker takes the controller's records a moment after the controller answered: wait
    until it enforces exactly the agency's ACLs and the agency logs in and sees its topic."""
    deadline = time.monotonic() + timeout
    want = agency_acls(access)
    while True:
        have = await describe_acls(client, access.principal)
        why = "ACLs not in place yet" if have != want else await agency_can_read(access)
        if why is None:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{access.username} cannot read {access.topic} on {access.bootstrap} "
                f"after {timeout:.0f}s: {why}"
            )
        await asyncio.sleep(0.05)


async def provision_agency(
    agency_id: str,
    password: str,
    *,
    bootstrap: str = "127.0.0.1:9092",
    partitions: int = 1,
    agency_bootstrap: str | None = None,
    replication_factor: int = 1,
    report: Callable[[str], None] | None = None,
) -> AgencyAccess:
    """Give agency ``agency_id`` its topic, its SCRAM-SHA-512 credential with ``password`` and
    exactly its ACLs, through the platform's listener ``bootstrap``; return once the agency can
    read its topic on ``agency_bootstrap`` (default: 127.0.0.1:$KAFKA_AGENCY_PORT, 9094).

    Idempotent: running it again changes nothing but the credential's salt (or its password).
    ``report``, if given, receives one line per thing it did."""
    access = agency_access(agency_id, password, agency_bootstrap)
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ValueError(f"agency {agency_id}: partitions must be 1..{MAX_PARTITIONS}")
    say = report or (lambda line: None)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        await asyncio.gather(admin.start(), client.bootstrap())
        applier = _TopicApplier(admin, replication_factor)
        await applier.apply([agency_topic(access, partitions)])
        for line in applier.lines:
            say(f"topic {access.topic}: {line}")
        if applier.failed:
            raise RuntimeError(f"topic {access.topic}: " + "; ".join(applier.lines))

        want = agency_acls(access)
        have = await describe_acls(client, access.principal)
        for acl in sorted(want - have, key=str):
            await create_acl(client, access.principal, acl)
            say(f"ACL added: {acl}")
        for acl in sorted(have - want, key=str):
            await delete_acl(client, access.principal, acl)
            say(f"ACL removed (not an agency's): {acl}")
        if have == want:
            say(f"ACLs up to date ({len(want)})")

        await set_scram_credential(client, access.username, password)
        say(f"{SASL_MECHANISM} credential set for {access.username}")

        await wait_until_ready(client, access)
        say(f"ready: {access.username} reads {access.topic} on {access.bootstrap}")
    finally:
        await asyncio.gather(admin.close(), client.close())
    return access


UNKNOWN_TOPIC = 3


async def revoke_agency(
    agency_id: str,
    *,
    bootstrap: str = "127.0.0.1:9092",
    delete_topic: bool = False,
    report: Callable[[str], None] | None = None,
) -> None:
    """Take an agency's access away: its ACLs and its credential (connections it has open can no
    longer do anything), and with ``delete_topic`` its topic too. Idempotent."""
    access = agency_access(agency_id, "-", None)
    say = report or (lambda line: None)
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        await client.bootstrap()
        for acl in sorted(await describe_acls(client, access.principal), key=str):
            await delete_acl(client, access.principal, acl)
            say(f"ACL removed: {acl}")
        if await set_scram_credential(client, access.username, None):
            say(f"{SASL_MECHANISM} credential of {access.username} deleted")
        else:
            say(f"{access.username} has no {SASL_MECHANISM} credential")
    finally:
        await client.close()
    if delete_topic:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS
        )
        try:
            await admin.start()
            response: Any = await admin.delete_topics([access.topic])
        finally:
            await admin.close()
        for topic, code in response.topic_error_codes:
            if code == UNKNOWN_TOPIC:
                say(f"topic {topic} does not exist")
            else:
                _check(code, None, f"delete topic {topic}")
                say(f"topic {topic} deleted")


# --- the program ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agency:
    id: str
    name: str


def load_agencies(path: Path) -> list[Agency]:
    """The ``[[agencies]]`` tables of the collections catalogue; anything else in it is left to
    the service that owns it."""
    with path.open("rb") as f:
        entries = tomllib.load(f).get("agencies", [])
    agencies = []
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry or "name" not in entry:
            raise ValueError(f"{path}: every [[agencies]] entry needs an id and a name")
        agency = Agency(id=str(entry["id"]), name=str(entry["name"]))
        if not AGENCY_ID.fullmatch(agency.id):
            raise ValueError(f"{path}: agency id {agency.id!r} is not lowercase [a-z0-9-]+")
        agencies.append(agency)
    ids = [a.id for a in agencies]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate agency ids")
    return agencies


def write_secret(path: Path, access: AgencyAccess) -> None:
    """Write the agency's connection details, readable by the owner only, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(access.as_json(), f, indent=2)
        f.write("\n")
    os.chmod(scratch, 0o600)  # O_CREAT's mode does not apply to a file left by an earlier run
    os.replace(scratch, path)


def read_password(path: Path) -> str | None:
    if not path.exists():
        return None
    password = json.loads(path.read_text()).get("password")
    return str(password) if password else None


async def provision_catalogue(
    agencies: Iterable[Agency], secrets_dir: Path, bootstrap: str, agency_bootstrap: str
) -> None:
    for agency in agencies:
        secret = secrets_dir / f"{agency.id}.json"
        password = read_password(secret) or secrets.token_urlsafe(24)
        access = agency_access(agency.id, password, agency_bootstrap)
        # Kept before the broker hears of it, so a failed run re-uses the same password.
        if not secret.exists() or json.loads(secret.read_text()) != access.as_json():
            write_secret(secret, access)
        elif secret.stat().st_mode & 0o077:
            os.chmod(secret, 0o600)

        def say(line: str, agency_id: str = agency.id) -> None:
            print(f"agency {agency_id}: {line}")

        await provision_agency(
            agency.id, password, bootstrap=bootstrap, agency_bootstrap=agency_bootstrap, report=say
        )
        say(f"credentials in {shown(secret)}")


async def revoke_all(
    agency_ids: Iterable[str], secrets_dir: Path, bootstrap: str, delete_topic: bool
) -> None:
    for agency_id in agency_ids:

        def say(line: str, agency_id: str = agency_id) -> None:
            print(f"agency {agency_id}: {line}")

        await revoke_agency(agency_id, bootstrap=bootstrap, delete_topic=delete_topic, report=say)
        secret = secrets_dir / f"{agency_id}.json"
        if secret.exists():
            secret.unlink()
            say(f"{shown(secret)} removed")


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE, help="TOML file")
    parser.add_argument(
        "--secrets-dir", type=Path, default=DEFAULT_SECRETS_DIR,
        help="where each agency's <id>.json (password and connection details) is kept",
    )
    parser.add_argument(
        "--bootstrap", default="127.0.0.1:9092", help="the platform's listener, host:port"
    )
    parser.add_argument(
        "--agency-bootstrap", default=default_agency_bootstrap(),
        help="the agencies' SASL listener handed to them, host:port",
    )
    parser.add_argument(
        "--revoke", metavar="ID", action="append", default=[],
        help="instead: take this agency's ACLs and credential away and forget its password "
        "(repeatable; take it out of the catalogue too, or the next run gives it a new one)",
    )
    parser.add_argument(
        "--delete-topic", action="store_true", help="with --revoke: delete its topic as well"
    )
    args = parser.parse_args()
    try:
        if args.revoke:
            revoking = revoke_all(args.revoke, args.secrets_dir, args.bootstrap, args.delete_topic)
            asyncio.run(revoking)
            return 0
        agencies = load_agencies(args.catalogue)
        asyncio.run(
            provision_catalogue(agencies, args.secrets_dir, args.bootstrap, args.agency_bootstrap)
        )
        return 0
    except Exception as e:  # a one-line diagnosis beats a traceback for an operator tool
        print(f"agencies: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
