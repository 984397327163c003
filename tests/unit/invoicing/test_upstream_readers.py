"""Invoicing reads registration's, eligibility's and payments' events through its own tolerant
readers; these tests hold every reader, nested models included, to the publishers' contracts
(shared/contracts/<service>/), so a breaking change there fails here rather than in production."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from services.invoicing.adapters.upstream_events import READERS
from tests.contract_readers import mismatches, published_schema


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
