"""Eligibility reads registration's events through its own tolerant readers; these tests hold the
readers to registration's published contracts (shared/contracts/registration/), so a breaking
change there fails here rather than in production."""

from __future__ import annotations

import json

import pytest

from services.eligibility.adapters.registration_events import (
    READERS,
    CoverageTerms,
    Reader,
    Subscriber,
)
from shared.events import CONTRACTS_DIR


def published_schema(event_type: str) -> dict:  # type: ignore[type-arg]
    return json.loads((CONTRACTS_DIR / "registration" / f"{event_type}.v1.schema.json").read_text())


def required_fields(model: type[Reader]) -> set[str]:
    return {name for name, field in model.model_fields.items() if field.is_required()}


@pytest.mark.parametrize("event_type", sorted(READERS))
def test_every_field_we_require_is_required_by_the_contract(event_type: str) -> None:
    schema = published_schema(event_type)
    reader = READERS[event_type]
    assert required_fields(reader) <= set(schema["required"])
    assert set(reader.model_fields) <= set(schema["properties"])


def test_nested_fields_we_read_exist_in_the_contract() -> None:
    definitions = published_schema("billing.registration.CoverageAdded")["$defs"]
    terms = definitions["CoverageTerms"]
    assert set(CoverageTerms.model_fields) <= set(terms["properties"])
    assert required_fields(CoverageTerms) <= set(terms["required"])
    assert set(Subscriber.model_fields) <= set(definitions["Subscriber"]["properties"])


def test_fields_we_do_not_read_are_ignored() -> None:
    reader = READERS["billing.registration.CoverageEnded"]
    event = reader.model_validate(
        {"customer_id": "cus_1", "coverage_id": "cov_1", "ended_on": "2026-12-31", "reason": "moved",
         "ended_at": "2026-11-27T09:30:00+00:00", "added_in_a_later_version": True}
    )
    assert event.model_dump() == {"customer_id": "cus_1", "coverage_id": "cov_1", "ended_on": event.ended_on}
