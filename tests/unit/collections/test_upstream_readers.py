"""Collections reads registration's, invoicing's and payments' events through its own tolerant
readers; these tests hold them to the published contracts, so a breaking change upstream fails
here rather than in production."""

from __future__ import annotations

import pytest

from services.collections.adapters.upstream_events import READERS
from tests.contract_readers import mismatches, published_schema


@pytest.mark.parametrize("event_type", sorted(READERS))
def test_every_field_collections_reads_is_in_the_publishers_contract(event_type: str) -> None:
    schema = published_schema(event_type)
    assert mismatches(READERS[event_type], schema, schema, event_type) == []


def test_fields_collections_does_not_read_are_ignored() -> None:
    bounced = READERS["billing.registration.ContactPointBounced"].model_validate({
        "customer_id": "cus_1", "contact_point_id": "em_1", "channel": "email", "reason": "550 no such user",
        "bounced_at": "2026-11-27T09:30:00+00:00", "added_in_a_later_version": 1,
    })
    assert bounced.model_dump() == {"customer_id": "cus_1", "contact_point_id": "em_1"}
