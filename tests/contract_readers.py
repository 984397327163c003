"""Holding a service's tolerant readers to the publishers' contracts (shared/contracts/<service>/):
every field a reader reads, nested models included, must be in the published JSON Schema, and
every field it requires must be required there."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

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
