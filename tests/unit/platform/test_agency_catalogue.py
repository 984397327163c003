"""deploy/agencies.py without a broker: the catalogue it reads, an agency's names and ACLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.agencies import (
    DEFAULT_CATALOGUE,
    Acl,
    Operation,
    PatternType,
    ResourceType,
    agency_access,
    agency_acls,
    load_agencies,
)


def test_the_shipped_catalogue_names_northwind() -> None:
    assert [(a.id, a.name) for a in load_agencies(DEFAULT_CATALOGUE)] == [
        ("northwind", "Northwind Recovery Services")
    ]


def test_other_keys_and_tables_of_the_catalogue_are_left_alone(tmp_path: Path) -> None:
    catalogue = tmp_path / "collections.toml"
    catalogue.write_text(
        """
[dunning]
first_notice_after_days = 30

[[agencies]]
id = "northwind"
name = "Northwind Recovery Services"
fee_rate_bp = 2500
contact = { email = "ops@northwind.example" }

[[agencies]]
id = "south-2"
name = "South Two"

[[agencies.rules]]
state = "IL"
"""
    )

    assert [a.id for a in load_agencies(catalogue)] == ["northwind", "south-2"]


@pytest.mark.parametrize(
    "entries, error",
    [
        ('[[agencies]]\nid = "Northwind"\nname = "N"\n', "not lowercase"),
        ('[[agencies]]\nid = "north.wind"\nname = "N"\n', "not lowercase"),
        ('[[agencies]]\nid = "northwind"\n', "needs an id and a name"),
        ('[[agencies]]\nid = "a"\nname = "A"\n[[agencies]]\nid = "a"\nname = "B"\n', "duplicate"),
    ],
)
def test_a_bad_catalogue_is_refused(tmp_path: Path, entries: str, error: str) -> None:
    catalogue = tmp_path / "collections.toml"
    catalogue.write_text(entries)

    with pytest.raises(ValueError, match=error):
        load_agencies(catalogue)


def test_an_agency_gets_its_user_topic_and_group_prefix() -> None:
    access = agency_access("northwind", "pw", "broker.example:9094")

    assert (access.username, access.principal, access.topic, access.group_prefix) == (
        "agency-northwind",
        "User:agency-northwind",
        "collections.agency.northwind",
        "agency.northwind.",
    )
    assert access.client_config() == {
        "bootstrap_servers": "broker.example:9094",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "agency-northwind",
        "sasl_plain_password": "pw",
    }
    assert "pw" not in repr(access)


def test_the_agency_listener_follows_kafka_agency_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_AGENCY_PORT", "19094")

    assert agency_access("northwind", "pw").bootstrap == "127.0.0.1:19094"


@pytest.mark.parametrize("agency_id", ["", "North", "a_b", "a.b", "a b", "../x"])
def test_an_agency_id_is_lowercase_letters_digits_and_dashes(agency_id: str) -> None:
    with pytest.raises(ValueError):
        agency_access(agency_id, "pw")


def test_an_agency_may_read_its_topic_with_its_groups_and_nothing_else() -> None:
    topic = "collections.agency.northwind"
    assert agency_acls(agency_access("northwind", "pw")) == {
        Acl(ResourceType.TOPIC, topic, PatternType.LITERAL, Operation.READ),
        Acl(ResourceType.TOPIC, topic, PatternType.LITERAL, Operation.DESCRIBE),
        Acl(ResourceType.GROUP, "agency.northwind.", PatternType.PREFIXED, Operation.READ),
    }
