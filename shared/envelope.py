"""The CloudEvents 1.0 envelope in Kafka binary mode.

Attributes travel as ``ce_*`` headers, the event's JSON is the message value, and the key is the
customer id so that all of a customer's events stay in order on one partition. Operators can read
every one of them with kafka-console-consumer or kcat without our code.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.events import DomainEvent, data_schema_uri

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

KafkaHeaders = list[tuple[str, bytes]]


class MalformedEnvelope(ValueError):
    """A message that is not a CloudEvent we can read; it belongs in a dead-letter topic."""


@dataclass(frozen=True)
class EventEnvelope:
    """One event with its metadata, as written to the store and published to Kafka."""

    id: uuid.UUID
    type: str
    source: str
    subject: str  # the customer id; also the Kafka key
    time: datetime
    schema_version: int
    data: dict[str, Any]
    correlation_id: str | None = None
    causation_id: str | None = None
    extra_headers: tuple[tuple[str, bytes], ...] = field(default=(), compare=False)

    @classmethod
    def wrap(
        cls,
        event: DomainEvent,
        *,
        source: str,
        subject: str,
        time: datetime,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> EventEnvelope:
        return cls(
            id=event_id or uuid.uuid4(),
            type=event.event_type,
            source=source,
            subject=subject,
            time=time,
            schema_version=event.schema_version,
            data=event.to_data(),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    # -- Kafka binary mode -------------------------------------------------------------------

    def kafka_key(self) -> bytes:
        return self.subject.encode()

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode()

    def kafka_headers(self) -> KafkaHeaders:
        headers: KafkaHeaders = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", str(self.id).encode()),
            ("ce_type", self.type.encode()),
            ("ce_source", self.source.encode()),
            ("ce_subject", self.subject.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("ce_dataschema", data_schema_uri(self.type, self.schema_version).encode()),
            ("ce_schemaversion", str(self.schema_version).encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.correlation_id:
            headers.append(("ce_correlationid", self.correlation_id.encode()))
        if self.causation_id:
            headers.append(("ce_causationid", self.causation_id.encode()))
        return headers

    @classmethod
    def from_kafka(cls, key: bytes | None, value: bytes | None, headers: KafkaHeaders) -> EventEnvelope:
        """Read a CloudEvent from a Kafka record; raises MalformedEnvelope with the reason."""
        attributes: dict[str, str] = {}
        for name, raw in headers or ():
            try:
                attributes[name] = raw.decode() if raw is not None else ""
            except UnicodeDecodeError:
                raise MalformedEnvelope(f"header {name} is not UTF-8") from None
        for required in ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time"):
            if not attributes.get(required):
                raise MalformedEnvelope(f"missing header {required}")
        if attributes["ce_specversion"] != SPEC_VERSION:
            raise MalformedEnvelope(f"unsupported ce_specversion {attributes['ce_specversion']}")
        content_type = attributes.get("content-type", CONTENT_TYPE)
        if not content_type.startswith(CONTENT_TYPE):
            raise MalformedEnvelope(f"unsupported content-type {content_type}")
        try:
            event_id = uuid.UUID(attributes["ce_id"])
        except ValueError:
            raise MalformedEnvelope("ce_id is not a UUID") from None
        try:
            time = datetime.fromisoformat(attributes["ce_time"])
        except ValueError:
            raise MalformedEnvelope("ce_time is not an RFC 3339 timestamp") from None
        try:
            schema_version = int(attributes.get("ce_schemaversion", "1"))
        except ValueError:
            raise MalformedEnvelope("ce_schemaversion is not an integer") from None
        if value is None:
            raise MalformedEnvelope("message has no value")
        try:
            data = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MalformedEnvelope(f"value is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise MalformedEnvelope("value is not a JSON object")
        subject = attributes.get("ce_subject") or (key.decode(errors="replace") if key else "")
        return cls(
            id=event_id,
            type=attributes["ce_type"],
            source=attributes["ce_source"],
            subject=subject,
            time=time,
            schema_version=schema_version,
            data=data,
            correlation_id=attributes.get("ce_correlationid"),
            causation_id=attributes.get("ce_causationid"),
        )
