"""The published contracts of every service's events: one JSON Schema file per event type and
schema version, at ``shared/contracts/<service>/<event_type>.v<N>.schema.json``.

The files are generated from the event models (``python -m shared.contracts export``) and checked
against them (``python -m shared.contracts check``, and tests/unit/platform/test_contracts.py), so
what other teams and collection agencies read is always what the code emits.

``CATALOGUE`` names each service's ``EventRegistry`` by dotted path and is imported only when a
command runs: the platform never imports a service at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.contracts.asyncapi import (
    AGENCY_CONTRACT,
    ASYNCAPI_FILE,
    render_agency_asyncapi,
    render_asyncapi,
)
from shared.events import CONTRACTS_DIR, EventRegistry, contract_file_name, render_contract

CATALOGUE: dict[str, str] = {
    "registration": "services.registration.domain.events:REGISTRATION_EVENTS",
    "eligibility": "services.eligibility.domain.events:ELIGIBILITY_EVENTS",
    "invoicing": "services.invoicing.domain.events:INVOICING_EVENTS",
    "payments": "services.payments.domain.events:PAYMENTS_EVENTS",
    "collections": "services.collections.domain.events:COLLECTIONS_EVENTS",
    # what collection agencies read on their own topics: a contract for outside parties
    AGENCY_CONTRACT: "services.collections.domain.agency:AGENCY_EVENTS",
}

CONTRACT_SUFFIX = ".schema.json"


def load_registry(dotted_path: str) -> EventRegistry:
    """The EventRegistry at ``package.module:NAME``."""
    module_name, _, attribute = dotted_path.partition(":")
    registry = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(registry, EventRegistry):
        raise TypeError(f"{dotted_path} is a {type(registry).__name__}, not an EventRegistry")
    return registry


def load_catalogue(catalogue: Mapping[str, str] = CATALOGUE) -> dict[str, EventRegistry]:
    return {service: load_registry(dotted_path) for service, dotted_path in catalogue.items()}


def expected_contracts(registries: Mapping[str, EventRegistry]) -> dict[Path, str]:
    """Every contract file the code defines, relative to the contracts folder, with its text:
    one JSON Schema per event and version, and the AsyncAPI document of all topics."""
    schemas = {
        Path(service) / contract_file_name(event_class): render_contract(event_class)
        for service, registry in registries.items()
        for event_class in registry
    }
    documents = {Path(ASYNCAPI_FILE): render_asyncapi(registries)}
    if AGENCY_CONTRACT in registries:
        documents[Path(AGENCY_CONTRACT) / ASYNCAPI_FILE] = render_agency_asyncapi(registries[AGENCY_CONTRACT])
    return {**schemas, **documents}


def _present_contracts(directory: Path) -> set[Path]:
    schemas = {path.relative_to(directory) for path in directory.glob(f"*/*{CONTRACT_SUFFIX}")}
    documents = {path.relative_to(directory) for path in directory.glob(f"**/{ASYNCAPI_FILE}")}
    return schemas | documents


@dataclass
class ContractDrift:
    """How the contract files differ from the code; empty when they agree."""

    drifted: list[Path] = field(default_factory=list)  # the schema in the code changed
    missing: list[Path] = field(default_factory=list)  # an event (or version) with no file yet
    stale: list[Path] = field(default_factory=list)  # a file for an event or version that is gone

    def __bool__(self) -> bool:
        return bool(self.drifted or self.missing or self.stale)

    def lines(self) -> list[str]:
        problems = {"drifted": self.drifted, "missing": self.missing, "stale": self.stale}
        return [f"{problem}: {path}" for problem, paths in problems.items() for path in paths]


def check(
    registries: Mapping[str, EventRegistry], directory: Path = CONTRACTS_DIR
) -> ContractDrift:
    """Compare the contract files in ``directory`` with the event models."""
    expected = expected_contracts(registries)
    present = _present_contracts(directory)
    return ContractDrift(
        drifted=sorted(
            path
            for path, text in expected.items()
            if path in present and (directory / path).read_text() != text
        ),
        missing=sorted(path for path in expected if path not in present),
        stale=sorted(present - expected.keys()),
    )


def export(
    registries: Mapping[str, EventRegistry], directory: Path = CONTRACTS_DIR
) -> ContractDrift:
    """Bring the files in ``directory`` in line with the event models: write the drifted and
    missing ones, delete the stale ones. Returns what it changed."""
    changes = check(registries, directory)
    expected = expected_contracts(registries)
    for path in changes.drifted + changes.missing:
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(expected[path])
    for path in changes.stale:
        (directory / path).unlink()
    return changes
