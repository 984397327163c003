"""The reference agency consumer (examples/agency/agency_consumer.py): its settings, and what it
does with each message, against a stub of the collections API (httpx.MockTransport)."""

from __future__ import annotations

import ast
import io
import json
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord

from tests.agency_example import EXAMPLE, load_example

example = load_example()

CREDENTIALS = {
    "username": "agency-northwind",
    "password": "s3cret",
    "topic": "collections.agency.northwind",
    "group_prefix": "agency.northwind.",
    "bootstrap": "127.0.0.1:9094",
    "security_protocol": "SASL_PLAINTEXT",
    "sasl_mechanism": "SCRAM-SHA-512",
}


def settings(**overrides: Any) -> Any:
    values = {
        "bootstrap": "127.0.0.1:9094", "username": "agency-northwind", "password": "s3cret",
        "topic": "collections.agency.northwind", "group": "agency.northwind.placements",
        "api": "http://collections.test", "token": "agency-token",
    }
    return example.Settings(**{**values, **overrides})


def placement_data(placement_id: str = "plc-1") -> dict[str, Any]:
    return {
        "placement_id": placement_id,
        "agency_id": "northwind",
        "account_reference": "INV-000123",
        "itemization": {
            "currency": "USD", "itemization_date": "2026-01-15", "original_amount": 12000,
            "payments": 2000, "adjustments": 0, "balance": 10000,
        },
    }


def record(
    event_type: str | None, data: Any, *, key: str = "plc-1", offset: int = 0
) -> ConsumerRecord:
    headers = [("ce_specversion", b"1.0"), ("ce_id", str(uuid.uuid4()).encode())]
    if event_type is not None:
        headers.append(("ce_type", event_type.encode()))
    value = json.dumps(data).encode()
    return ConsumerRecord(
        topic="collections.agency.northwind", partition=0, offset=offset, timestamp=0,
        timestamp_type=0, key=key.encode(), value=value, checksum=None,
        serialized_key_size=len(key), serialized_value_size=len(value), headers=headers,
    )


class StubApi:
    """Records requests; answers each path with the status given (201 by default)."""

    def __init__(self, statuses: dict[str, int] | None = None) -> None:
        self.statuses = statuses or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.get(request.url.path, 201)
        if status >= 300:
            return httpx.Response(status, json={"title": "refused", "status": status})
        body = json.loads(request.content)
        return httpx.Response(status, json={"accepted": request.url.path, **body})

    def bodies(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r.url.path, json.loads(r.content)) for r in self.requests]


async def handle(
    records: list[ConsumerRecord], api: StubApi, **overrides: Any
) -> list[dict[str, Any]]:
    out = io.StringIO()
    config = settings(**overrides)
    async with example.http_client(config, httpx.MockTransport(api)) as http:
        handler = example.PlacementHandler(config, http, out=out, today=lambda: date(2026, 3, 2))
        for r in records:
            await handler.handle(r)
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --- settings -----------------------------------------------------------------------------------


def test_settings_come_from_the_credentials_file_the_platform_hands_over(tmp_path: Path) -> None:
    credentials = tmp_path / "northwind.json"
    credentials.write_text(json.dumps(CREDENTIALS))

    parsed = example.parse_args(
        ["--credentials", str(credentials), "--api", "http://collections.test/", "--token", "t"],
        environ={},
    )

    assert parsed == settings(api="http://collections.test", token="t")


def test_options_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    credentials = tmp_path / "northwind.json"
    credentials.write_text(json.dumps(CREDENTIALS))
    environ = {
        "AGENCY_CREDENTIALS": str(credentials), "AGENCY_PASSWORD": "from-env",
        "AGENCY_API": "http://env.test", "AGENCY_TOKEN": "env-token",
        "AGENCY_GROUP": "agency.northwind.env",
    }

    parsed = example.parse_args(["--group", "agency.northwind.option", "--pay", "2500"], environ)

    assert (parsed.password, parsed.api) == ("from-env", "http://env.test")
    assert parsed.token == "env-token"
    assert parsed.group == "agency.northwind.option"
    assert parsed.bootstrap == "127.0.0.1:9094" and parsed.pay == 2500


@pytest.mark.parametrize(
    "group",
    ["payments.feeds", "agency.southwind.reader", "agency.northwindx.reader", "agency.northwind."],
)
def test_a_group_outside_the_agencys_prefix_is_refused_before_connecting(group: str) -> None:
    argv = ["--bootstrap", "b:9094", "--username", "agency-northwind", "--password", "p",
            "--api", "http://a", "--token", "t", "--group", group]

    with pytest.raises(example.SettingsError, match=r"must start with agency\.northwind\."):
        example.parse_args(argv, environ={})


def test_missing_settings_are_named() -> None:
    missing = "missing --bootstrap, --password, --api, --token"
    with pytest.raises(example.SettingsError, match=missing):
        example.parse_args(["--username", "agency-northwind"], environ={})
    with pytest.raises(example.SettingsError, match="agency-<agency id>"):
        example.parse_args(["--username", "northwind"], environ={})


def test_the_topic_and_group_default_to_the_agencys_own() -> None:
    argv = ["--bootstrap", "b:9094", "--username", "agency-south-wind", "--password", "p",
            "--api", "http://a", "--token", "t"]

    parsed = example.parse_args(argv, environ={})

    assert parsed.topic == "collections.agency.south-wind"
    assert parsed.group == "agency.south-wind.placements"


# --- handling messages --------------------------------------------------------------------------


async def test_each_message_is_printed_as_one_json_line_and_a_placement_is_acknowledged() -> None:
    api = StubApi()

    lines = await handle([record(example.PLACEMENT, placement_data("plc-1"))], api)

    assert lines == [{"type": example.PLACEMENT, "key": "plc-1", "data": placement_data("plc-1")}]
    [ack] = api.requests
    assert (ack.method, str(ack.url)) == (
        "POST", "http://collections.test/v1/agency/placements/plc-1/acknowledgement"
    )
    assert json.loads(ack.content) == {"agency_reference": "northwind-plc-1"}
    assert ack.headers["Authorization"] == "Bearer agency-token"
    assert ack.headers["Content-Type"] == "application/json"


async def test_with_pay_a_payment_is_reported_for_each_placement_and_the_answer_printed() -> None:
    api = StubApi()

    lines = await handle(
        [record(example.PLACEMENT, placement_data("plc-1")),
         record(example.PLACEMENT, placement_data("plc-2"), key="plc-2", offset=1)],
        api, pay=2500,
    )

    payment = {"amount": 2500, "currency": "USD", "collected_on": "2026-03-02",
               "reference": "northwind-payment-plc-1"}
    assert api.bodies() == [
        ("/v1/agency/placements/plc-1/acknowledgement", {"agency_reference": "northwind-plc-1"}),
        ("/v1/agency/placements/plc-1/payments", payment),
        ("/v1/agency/placements/plc-2/acknowledgement", {"agency_reference": "northwind-plc-2"}),
        ("/v1/agency/placements/plc-2/payments",
         {**payment, "reference": "northwind-payment-plc-2"}),
    ]
    assert lines[1] == {"reported": {"accepted": "/v1/agency/placements/plc-1/payments", **payment}}
    assert [list(line) for line in lines] == [["type", "key", "data"], ["reported"]] * 2


async def test_idempotency_keys_are_derived_from_the_placement_so_a_rerun_repeats_them() -> None:
    first, second = StubApi(), StubApi()
    placements = [record(example.PLACEMENT, placement_data("plc-1"))]

    await handle(placements, first, pay=100)
    await handle(placements, second, pay=100)

    keys = [r.headers["Idempotency-Key"] for r in first.requests]
    assert keys == [r.headers["Idempotency-Key"] for r in second.requests]
    assert len(set(keys)) == 2  # the acknowledgement's and the payment's differ
    assert all(uuid.UUID(key) for key in keys)
    other = StubApi()
    await handle([record(example.PLACEMENT, placement_data("plc-9"))], other)
    assert other.requests[0].headers["Idempotency-Key"] not in keys


async def test_other_messages_are_printed_and_nothing_is_posted() -> None:
    api = StubApi()
    recall = "billing.collections.agency.v1.AccountRecalled"
    recalled = {"placement_id": "plc-1", "agency_id": "northwind", "reason": "paid_directly"}

    lines = await handle([record(recall, recalled)], api, pay=100)

    assert lines == [{"type": recall, "key": "plc-1", "data": recalled}]
    assert api.requests == []


async def test_a_non_2xx_answer_stops_the_handling_with_the_answer() -> None:
    api = StubApi({"/v1/agency/placements/plc-1/acknowledgement": 409})

    with pytest.raises(example.ApiRefused, match="acknowledgement: 409") as refused:
        await handle([record(example.PLACEMENT, placement_data("plc-1"))], api, pay=100)

    assert isinstance(refused.value, example.NotHandled)
    assert len(api.requests) == 1  # no payment reported for a placement it could not acknowledge


async def test_a_placement_without_its_currency_is_not_handled() -> None:
    data = placement_data("plc-1")
    del data["itemization"]

    with pytest.raises(example.NotHandled, match="itemization"):
        await handle([record(example.PLACEMENT, data)], StubApi(), pay=100)


def test_the_example_stands_alone() -> None:
    """An agency runs it without the platform's code: only the standard library, aiokafka, httpx."""
    tree = ast.parse(EXAMPLE.read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not (isinstance(node, ast.ImportFrom) and node.level)
    }
    outside = {name for name in imported if name not in sys.stdlib_module_names}
    assert outside == {"aiokafka", "httpx"}
