"""Payments reads invoicing's events through its own tolerant readers; these tests hold them to
invoicing's published contracts, so a breaking change there fails here rather than in production."""

from __future__ import annotations

import pytest

from services.payments.adapters.upstream_events import READERS
from tests.contract_readers import mismatches, published_schema


@pytest.mark.parametrize("event_type", sorted(READERS))
def test_every_field_payments_reads_is_in_invoicings_contract(event_type: str) -> None:
    schema = published_schema(event_type)
    assert mismatches(READERS[event_type], schema, schema, event_type) == []


def test_fields_payments_does_not_read_are_ignored() -> None:
    voided = READERS["billing.invoicing.InvoiceVoided"].model_validate({
        "invoice_id": "inv_1", "number": "INV-2026-000001", "customer_id": "cus_1", "reason": "duplicate",
        "voided_by": "billing", "voided_at": "2026-11-27T09:30:00+00:00", "added_in_a_later_version": 1,
    })
    assert voided.model_dump() == {"invoice_id": "inv_1", "customer_id": "cus_1"}
