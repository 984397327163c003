"""The AsyncAPI 3.0 document of the platform's topics, generated from the topic catalogue
(deploy/topics.toml) and the event registries, and kept next to the event contracts.

Operators and integrators read one document for every topic: its partitions and retention, which
service writes it, the CloudEvents headers, the key, and each event's payload schema (a reference
to the exported contract file)."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.envelope import SPEC_VERSION
from shared.events import EventRegistry, contract_file_name

TOPIC_CATALOGUE = Path(__file__).resolve().parents[2] / "deploy" / "topics.toml"
ASYNCAPI_FILE = "asyncapi.json"
AGENCY_CONTRACT = "agency"  # the contract collection agencies read: its own folder and document

_CLOUDEVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary mode; the value is the event's JSON.",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": SPEC_VERSION},
        "ce_id": {"type": "string", "format": "uuid", "description": "Unique per event; consumers deduplicate by it"},
        "ce_type": {"type": "string", "description": "e.g. billing.registration.CustomerRegistered"},
        "ce_source": {"type": "string", "description": "The service, e.g. /billing/registration"},
        "ce_subject": {"type": "string", "description": "The customer id (also the key)"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_dataschema": {"type": "string", "description": "URN of the payload's contract ($id)"},
        "ce_schemaversion": {"type": "string", "description": "Version of the payload's contract"},
        "ce_correlationid": {"type": "string", "description": "The request or flow that caused it"},
        "ce_causationid": {"type": "string", "description": "The event that caused it, if any"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}

_DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The original message's headers, key and value, plus why and where it failed.",
    "required": ["dlq_reason", "dlq_original_topic", "dlq_original_partition", "dlq_original_offset"],
    "properties": {
        "dlq_reason": {"type": "string"},
        "dlq_original_topic": {"type": "string"},
        "dlq_original_partition": {"type": "string"},
        "dlq_original_offset": {"type": "string"},
        "dlq_consumer_group": {"type": "string"},
        "dlq_failed_at": {"type": "string", "format": "date-time"},
    },
}


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _kafka_binding(topic: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kafka": {
            "topic": topic["name"],
            "partitions": topic["partitions"],
            "topicConfiguration": {
                "retention.ms": topic["retention_ms"],
                "cleanup.policy": [topic["cleanup_policy"]],
            },
        }
    }


def asyncapi_document(
    registries: Mapping[str, EventRegistry], catalogue: Path = TOPIC_CATALOGUE
) -> dict[str, Any]:
    """The document: one channel per catalogued topic; a service's `<service>.events` topic
    carries its registry's events, a `.dlq` topic carries dead letters of any of them."""
    topics = tomllib.loads(catalogue.read_text())["topics"]
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for service, registry in registries.items():
        if service == AGENCY_CONTRACT:
            continue  # documented on its own, for the agencies (agency/asyncapi.json)
        for event_class in registry:
            name = event_class.__name__
            messages[name] = {
                "name": name,
                "title": event_class.event_type,
                "summary": (event_class.__doc__ or "").strip().splitlines()[0] if event_class.__doc__ else name,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": f"./{service}/{contract_file_name(event_class)}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": "the customer id"}}},
            }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A message a consumer group could not process",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original value, unchanged (often, but not always, JSON)"},
    }
    for topic in topics:
        channel_id = _identifier(topic["name"])
        service = topic["name"].removesuffix(".events")
        if topic["name"].endswith(".dlq"):
            carried = ["DeadLetter"]
        elif service in registries:
            carried = [event_class.__name__ for event_class in registries[service]]
        else:
            carried = []
        channels[channel_id] = {
            "address": topic["name"],
            "description": topic.get("description", ""),
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in carried},
            "bindings": _kafka_binding(topic),
        }
        if service in registries and not topic["name"].endswith(".dlq"):
            operations[f"{_identifier(service)}_publishes"] = {
                "action": "send",
                "summary": f"The {service} service's relay publishes every event it records",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in carried],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Billing platform events",
            "version": "1.0.0",
            "description": "Every topic of the platform, generated from deploy/topics.toml and the "
            "services' event models (python -m shared.contracts export).",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"CloudEventHeaders": _CLOUDEVENT_HEADERS, "DeadLetterHeaders": _DEAD_LETTER_HEADERS},
        },
    }


def render_asyncapi(registries: Mapping[str, EventRegistry], catalogue: Path = TOPIC_CATALOGUE) -> str:
    return json.dumps(asyncapi_document(registries, catalogue), indent=2) + "\n"


def agency_asyncapi_document(registry: EventRegistry) -> dict[str, Any]:
    """The document a collection agency is given: its own topic, how to connect, and the
    messages on it. Nothing else of the platform is described to outside parties."""
    messages = {
        event_class.__name__: {
            "name": event_class.__name__,
            "title": event_class.event_type,
            "summary": (event_class.__doc__ or event_class.__name__).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"./{contract_file_name(event_class)}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "the placement id"}}},
        }
        for event_class in registry
    }
    headers = {
        **_CLOUDEVENT_HEADERS,
        "properties": {
            **_CLOUDEVENT_HEADERS["properties"],
            "ce_type": {"type": "string", "description": "e.g. billing.collections.agency.v1.AccountEscalated"},
            "ce_subject": {"type": "string", "description": "The placement id (also the key)"},
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Collection agency placements",
            "version": "1.0.0",
            "description": "What a collection agency reads: the accounts placed with it and the accounts "
            "recalled from it, on a topic of its own that only it may read. The message types carry the "
            "contract's major version (billing.collections.agency.v1.*); a breaking change is published as "
            "v2 alongside v1. The agency reports back over HTTP (collections' API, /v1/agency/placements/...: "
            "acknowledgement, payments, return) with its bearer token. Generated by python -m shared.contracts export.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "agency-listener": {
                "host": "127.0.0.1:9094", "protocol": "kafka", "protocolVersion": "3.9",
                "description": "The broker's SASL listener for agencies (SASL_PLAINTEXT locally; TLS in production)",
                "security": [{"$ref": "#/components/securitySchemes/agencyScram"}],
            },
        },
        "channels": {
            "placements": {
                "address": "collections.agency.{agencyId}",
                "description": "One topic per agency, readable only by that agency's principal "
                "(User:agency-<agencyId>) with consumer groups named agency.<agencyId>.*",
                "parameters": {"agencyId": {"description": "The agency's id, e.g. northwind"}},
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            },
        },
        "operations": {
            "agency_reads_placements": {
                "action": "receive",
                "summary": "The agency consumes its placements and recalls, deduplicating by ce_id",
                "channel": {"$ref": "#/channels/placements"},
                "messages": [{"$ref": f"#/channels/placements/messages/{name}"} for name in messages],
            },
        },
        "components": {
            "messages": messages,
            "schemas": {"CloudEventHeaders": headers},
            "securitySchemes": {
                "agencyScram": {
                    "type": "scramSha512",
                    "description": "SASL/SCRAM-SHA-512 with the credentials issued to the agency (username agency-<agencyId>)",
                },
            },
        },
    }


def render_agency_asyncapi(registry: EventRegistry) -> str:
    return json.dumps(agency_asyncapi_document(registry), indent=2) + "\n"
