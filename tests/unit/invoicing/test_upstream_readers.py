"""Invoicing reads registration's, eligibility's and payments' events through its own tolerant
readers; these tests hold every reader, nested models included, to the publishers' contracts
(shared/contracts/<service>/), so a breaking change there fails here rather than in production."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from services.invoicing.adapters.upstream_events import READERS
from shared.events import CONTRACTS_DIR


def published_schema(event_type: str) -> dict[str, Any]:
    service = event_type.split(".")[1]
    return json.loads((CONTRACTS_DIR / service / f"{event_type}.v1.schema.json").read_text())


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    for alternative in node.get("anyOf", []):  # an optional object: the non-null alternative
        if alternative.get("type") != "null":
            return _resolve(alternative, root)
    if node.get("type") == "array":
        return _resolve(node["items"], root)
    return node


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]


def mismatches(reader: type[BaseModel], node: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    """Fields the reader reads that the contract lacks, or requires that the contract leaves optional."""
    found = []
    properties, required = node.get("properties", {}), set(node.get("required", []))
    for name, field in reader.model_fields.items():
        if name not in properties:
            found.append(f"{path}.{name} is not in the contract")
            continue
        if field.is_required() and name not in required:
            found.append(f"{path}.{name} is required by the reader but optional in the contract")
        for model in _models_in(field.annotation):
            found += mismatches(model, _resolve(properties[name], root), root, f"{path}.{name}")
    return found


@pytest.mark.parametrize("event_type", sorted(READERS))
def test_every_field_invoicing_reads_is_in_the_publishers_contract(event_type: str) -> None:
    schema = published_schema(event_type)
    assert mismatches(READERS[event_type], schema, schema, event_type) == []


def test_the_checker_notices_a_field_the_contract_lacks() -> None:
    class Reads(BaseModel):
        customer_id: str
        shoe_size: int

    schema = published_schema("billing.registration.CustomerRegistered")
    assert mismatches(Reads, schema, schema, "x") == ["x.shoe_size is not in the contract"]


def test_fields_invoicing_does_not_read_are_ignored() -> None:
    reader = READERS["billing.registration.CoverageEnded"]
    event = reader.model_validate({
        "customer_id": "cus_1", "coverage_id": "cov_1", "ended_on": "2026-12-31", "reason": "moved",
        "ended_at": "2026-11-27T09:30:00+00:00", "added_in_a_later_version": True,
    })
    assert event.model_dump() == {"customer_id": "cus_1", "coverage_id": "cov_1", "ended_on": event.ended_on}
