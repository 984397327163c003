"""Payments reads invoicing's and collections' events through its own tolerant readers; these
tests hold them to those services' published contracts, so a breaking change there fails here
rather than in production."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.adapters.upstream_events import COLLECTIONS_READERS, READERS
from tests.contract_readers import mismatches, published_schema

ALL_READERS = {**READERS, **COLLECTIONS_READERS}


@pytest.mark.parametrize("event_type", sorted(ALL_READERS))
def test_every_field_payments_reads_is_in_the_publishers_contract(event_type: str) -> None:
    schema = published_schema(event_type)
    assert mismatches(ALL_READERS[event_type], schema, schema, event_type) == []


def test_fields_payments_does_not_read_are_ignored() -> None:
    voided = READERS["billing.invoicing.InvoiceVoided"].model_validate({
        "invoice_id": "inv_1", "number": "INV-2026-000001", "customer_id": "cus_1", "reason": "duplicate",
        "voided_by": "billing", "voided_at": "2026-11-27T09:30:00+00:00", "added_in_a_later_version": 1,
    })
    assert voided.model_dump() == {"invoice_id": "inv_1", "customer_id": "cus_1"}


def test_an_agency_report_is_read_without_what_payments_does_not_need() -> None:
    reported = COLLECTIONS_READERS["billing.collections.AgencyPaymentReported"].model_validate({
        "report_id": "rep_1", "placement_id": "plc_1", "debt_id": "debt_1", "customer_id": "cus_1",
        "invoice_id": "inv_1", "agency_id": "agy_1", "agency_name": "Northwind Recovery", "amount": 12000,
        "fee": 3000, "currency": "USD", "collected_on": "2026-03-01", "reported_at": "2026-03-02T09:30:00+00:00",
        "added_in_a_later_version": True,
    })
    assert reported.model_dump() == {
        "report_id": "rep_1", "customer_id": "cus_1", "invoice_id": "inv_1", "agency_id": "agy_1",
        "agency_name": "Northwind Recovery", "amount": 12000, "fee": 3000, "currency": "USD",
        "collected_on": date(2026, 3, 1), "reference": None,
    }
