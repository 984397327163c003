"""Domain events: immutable pydantic models named in the past tense, and the registry that maps
their CloudEvents type back to the model.

A service declares its events by subclassing ``DomainEvent`` with two class variables:
``event_type`` (the CloudEvents ``type``, e.g. ``billing.registration.CustomerRegistered``) and
``schema_version`` (bumped on every incompatible change). Their JSON Schemas are exported to
``shared/contracts/`` so other teams and agencies can rely on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

CONTRACTS_DIR = Path(__file__).parent / "contracts"


class DomainEvent(BaseModel):
    """Base of every event. Frozen: a fact does not change after it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class UnknownEventType(LookupError):
    pass


class EventRegistry:
    """Maps CloudEvents types to event models, for decoding what is read from a store or a topic."""

    def __init__(self, event_classes: Iterable[type[DomainEvent]] = ()) -> None:
        self._by_type: dict[str, type[DomainEvent]] = {}
        for event_class in event_classes:
            self.register(event_class)

    def register(self, event_class: type[DomainEvent]) -> type[DomainEvent]:
        existing = self._by_type.get(event_class.event_type)
        if existing is not None and existing is not event_class:
            raise ValueError(f"{event_class.event_type} is registered twice")
        self._by_type[event_class.event_type] = event_class
        return event_class

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._by_type

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_type.values())

    def model_for(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def decode(self, event_type: str, data: dict[str, Any]) -> DomainEvent:
        """Validate ``data`` as the event ``event_type``; raises pydantic's ValidationError."""
        return self.model_for(event_type).model_validate(data)


def contract_file_name(event_class: type[DomainEvent]) -> str:
    return f"{event_class.event_type}.v{event_class.schema_version}.schema.json"


def contract_schema(event_class: type[DomainEvent]) -> dict[str, Any]:
    schema = event_class.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:billing:contracts:{event_class.event_type}:v{event_class.schema_version}",
        "x-event-type": event_class.event_type,
        "x-schema-version": event_class.schema_version,
        **schema,
    }


def render_contract(event_class: type[DomainEvent]) -> str:
    return json.dumps(contract_schema(event_class), indent=2, sort_keys=True) + "\n"


def data_schema_uri(event_type: str, schema_version: int) -> str:
    """The CloudEvents ``dataschema`` of an event: the URN its exported contract carries as $id."""
    return f"urn:billing:contracts:{event_type}:v{schema_version}"
