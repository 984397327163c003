"""The exported event contracts (shared/contracts/) say exactly what the code emits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from shared.contracts import CATALOGUE, check, export, load_catalogue, load_registry
from shared.contracts.__main__ import main
from shared.events import CONTRACTS_DIR, DomainEvent, EventRegistry

REPOSITORY = CONTRACTS_DIR.parents[1]

ASYNCAPI = Path("asyncapi.json")
CONTRACT = Path("things/billing.test.ThingHappened.v1.schema.json")


class ThingHappened(DomainEvent):
    event_type: ClassVar[str] = "billing.test.ThingHappened"
    thing_id: str


class ThingHappenedWithAColour(DomainEvent):
    """The same event after someone added a field without telling anyone."""

    event_type: ClassVar[str] = "billing.test.ThingHappened"
    thing_id: str
    colour: str


class ThingHappenedV2(DomainEvent):
    event_type: ClassVar[str] = "billing.test.ThingHappened"
    schema_version: ClassVar[int] = 2
    thing_ids: list[str]


class OtherThingHappened(DomainEvent):
    event_type: ClassVar[str] = "billing.test.OtherThingHappened"


def test_the_committed_contracts_match_the_event_models() -> None:
    drift = check(load_catalogue(), CONTRACTS_DIR)

    assert not drift, "\n".join(
        [*drift.lines(), "run `python -m shared.contracts export` and commit the result"]
    )


def test_every_service_in_the_catalogue_publishes_some_events() -> None:
    for service, registry in load_catalogue().items():
        assert list(registry), f"{service} ({CATALOGUE[service]}) has no events"


def test_exported_contracts_agree_with_the_code_until_an_event_changes(tmp_path: Path) -> None:
    export({"things": EventRegistry([ThingHappened])}, tmp_path)

    assert (tmp_path / CONTRACT).is_file()
    assert not check({"things": EventRegistry([ThingHappened])}, tmp_path)
    drift = check({"things": EventRegistry([ThingHappenedWithAColour])}, tmp_path)
    assert (drift.drifted, drift.missing, drift.stale) == ([ASYNCAPI, CONTRACT], [], [])


def test_a_new_event_is_missing_and_a_replaced_version_is_stale_until_exported(
    tmp_path: Path,
) -> None:
    export({"things": EventRegistry([ThingHappened])}, tmp_path)
    now = {"things": EventRegistry([ThingHappenedV2, OtherThingHappened])}

    drift = check(now, tmp_path)

    assert drift.missing == [
        Path("things/billing.test.OtherThingHappened.v1.schema.json"),
        Path("things/billing.test.ThingHappened.v2.schema.json"),
    ]
    assert drift.stale == [CONTRACT]
    assert drift.drifted == [ASYNCAPI]  # the topic now carries other messages
    assert export(now, tmp_path) == drift
    assert not check(now, tmp_path)
    assert not (tmp_path / CONTRACT).exists()


def test_the_check_command_fails_listing_each_problem_and_export_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "retired-service").mkdir()
    (tmp_path / "retired-service" / "billing.old.Thing.v1.schema.json").write_text("{}")

    assert main(["check", "--dir", str(tmp_path)]) == 1
    reported = capsys.readouterr().out.splitlines()
    assert "stale: retired-service/billing.old.Thing.v1.schema.json" in reported
    assert (
        "missing: registration/billing.registration.CustomerRegistered.v1.schema.json" in reported
    )

    assert main(["export", "--dir", str(tmp_path)]) == 0
    assert main(["check", "--dir", str(tmp_path)]) == 0


def test_the_asyncapi_document_describes_each_catalogued_topic_and_its_events() -> None:
    document = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())

    channel = document["channels"]["registration_events"]
    assert channel["address"] == "registration.events"
    assert channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == -1
    assert "CustomerRegistered" in channel["messages"]
    message = document["components"]["messages"]["CustomerRegistered"]
    assert message["payload"]["$ref"] == (
        "./registration/billing.registration.CustomerRegistered.v1.schema.json"
    )
    assert (CONTRACTS_DIR / message["payload"]["$ref"]).is_file()
    dead_letters = document["channels"]["registration_search-projection_dlq"]
    assert list(dead_letters["messages"]) == ["DeadLetter"]


def test_a_catalogue_entry_must_name_an_event_registry() -> None:
    with pytest.raises(TypeError, match="not an EventRegistry"):
        load_registry("shared.events:CONTRACTS_DIR")


def test_the_platform_imports_no_service_until_a_command_runs() -> None:
    probe = (
        "import sys, shared.contracts; print([m for m in sys.modules if m.startswith('services')])"
    )

    imported = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, check=True
    )

    assert imported.stdout.strip() == "[]"
