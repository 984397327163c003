"""The CloudEvents envelope in Kafka binary mode: what we write we read back, and whatever we
cannot read is refused with a reason an operator can act on."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest

from shared.envelope import EventEnvelope, KafkaHeaders, MalformedEnvelope
from shared.events import DomainEvent, contract_schema


class InvoiceIssued(DomainEvent):
    event_type: ClassVar[str] = "billing.invoicing.InvoiceIssued"
    schema_version: ClassVar[int] = 2
    invoice_id: str
    amount_due: int


def an_envelope(**changes: object) -> EventEnvelope:
    envelope = EventEnvelope.wrap(
        InvoiceIssued(invoice_id="inv-1", amount_due=12_500),
        source="/billing/invoicing",
        subject="cust-42",
        time=datetime(2026, 3, 1, 14, 5, 9, 123456, tzinfo=timezone(timedelta(hours=-5))),
        correlation_id="corr-1",
        causation_id="cause-1",
    )
    return dataclasses.replace(envelope, **changes)


def as_record(envelope: EventEnvelope) -> tuple[bytes, bytes, KafkaHeaders]:
    return envelope.kafka_key(), envelope.kafka_value(), envelope.kafka_headers()


def test_an_envelope_survives_the_round_trip_through_kafka_key_value_and_headers() -> None:
    envelope = an_envelope()

    assert EventEnvelope.from_kafka(*as_record(envelope)) == envelope


def test_the_headers_are_readable_cloudevents_attributes_and_the_key_is_the_subject() -> None:
    envelope = an_envelope()
    key, value, headers = as_record(envelope)

    assert dict(headers) == {
        "ce_specversion": b"1.0",
        "ce_id": str(envelope.id).encode(),
        "ce_type": b"billing.invoicing.InvoiceIssued",
        "ce_source": b"/billing/invoicing",
        "ce_subject": b"cust-42",
        "ce_time": b"2026-03-01T14:05:09.123456-05:00",
        "ce_dataschema": b"urn:billing:contracts:billing.invoicing.InvoiceIssued:v2",
        "ce_schemaversion": b"2",
        "content-type": b"application/json",
        "ce_correlationid": b"corr-1",
        "ce_causationid": b"cause-1",
    }
    assert key == b"cust-42"
    assert value == b'{"amount_due":12500,"invoice_id":"inv-1"}'


def test_the_dataschema_header_names_the_exported_contract() -> None:
    headers = dict(an_envelope().kafka_headers())

    assert headers["ce_dataschema"].decode() == contract_schema(InvoiceIssued)["$id"]


def test_optional_attributes_are_left_out_and_the_subject_falls_back_to_the_key() -> None:
    envelope = an_envelope(correlation_id=None, causation_id=None)
    key, value, headers = as_record(envelope)
    without_subject = [(name, raw) for name, raw in headers if name != "ce_subject"]

    assert {"ce_correlationid", "ce_causationid"}.isdisjoint(dict(headers))
    assert EventEnvelope.from_kafka(key, value, without_subject) == envelope


def test_a_json_content_type_with_parameters_is_accepted() -> None:
    key, value, headers = as_record(an_envelope())
    headers = [
        (n, b"application/json; charset=utf-8" if n == "content-type" else r) for n, r in headers
    ]

    assert EventEnvelope.from_kafka(key, value, headers).data == {
        "amount_due": 12500,
        "invoice_id": "inv-1",
    }


def replaced(headers: KafkaHeaders, name: str, raw: bytes | None) -> KafkaHeaders:
    return [(n, raw if n == name else r) for n, r in headers]  # type: ignore[misc]


def removed(headers: KafkaHeaders, name: str) -> KafkaHeaders:
    return [(n, r) for n, r in headers if n != name]


VALID_KEY, VALID_VALUE, VALID_HEADERS = as_record(an_envelope(id=uuid.UUID(int=1)))

MALFORMED = {
    "no headers at all": (VALID_VALUE, [], "missing header ce_specversion"),
    "no ce_id": (VALID_VALUE, removed(VALID_HEADERS, "ce_id"), "missing header ce_id"),
    "no ce_type": (VALID_VALUE, removed(VALID_HEADERS, "ce_type"), "missing header ce_type"),
    "no ce_source": (VALID_VALUE, removed(VALID_HEADERS, "ce_source"), "missing header ce_source"),
    "no ce_time": (VALID_VALUE, removed(VALID_HEADERS, "ce_time"), "missing header ce_time"),
    "empty ce_type": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_type", b""),
        "missing header ce_type",
    ),
    "null ce_id": (VALID_VALUE, replaced(VALID_HEADERS, "ce_id", None), "missing header ce_id"),
    "header not UTF-8": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_source", b"\xff\xfe"),
        "header ce_source is not UTF-8",
    ),
    "other spec version": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_specversion", b"0.3"),
        "unsupported ce_specversion 0.3",
    ),
    "not JSON content": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "content-type", b"application/avro"),
        "unsupported content-type application/avro",
    ),
    "ce_id not a UUID": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_id", b"42"),
        "ce_id is not a UUID",
    ),
    "ce_time not a timestamp": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_time", b"yesterday"),
        "ce_time is not an RFC 3339 timestamp",
    ),
    "schema version not a number": (
        VALID_VALUE,
        replaced(VALID_HEADERS, "ce_schemaversion", b"two"),
        "ce_schemaversion is not an integer",
    ),
    "no value (a tombstone)": (None, VALID_HEADERS, "message has no value"),
    "value not JSON": (b"{amount_due: 1}", VALID_HEADERS, "value is not JSON"),
    "value not UTF-8": (b"\xff\xfe{}", VALID_HEADERS, "value is not JSON"),
    "value a JSON array": (b"[1, 2]", VALID_HEADERS, "value is not a JSON object"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_record_is_refused_with_the_reason(case: str) -> None:
    value, headers, reason = MALFORMED[case]

    with pytest.raises(MalformedEnvelope) as refused:
        EventEnvelope.from_kafka(VALID_KEY, value, headers)

    assert str(refused.value).startswith(reason)
