"""Idempotency-Key against the real PostgreSQL: a retried POST has its effect once and gets the
first answer back, even when the retry races the original."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Annotated

import asyncpg
import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.envelope import EventEnvelope
from shared.eventstore import PostgresEventStore
from shared.http.auth import ApiTokens, Principal, TokenGrant, require_scopes
from shared.http.idempotency import (
    IdempotencyKey,
    IdempotentResult,
    Operation,
    purge_idempotency_keys,
    request_fingerprint,
    run_idempotently,
)
from shared.http.problems import Problem, install_problem_handlers

pytestmark = pytest.mark.integration

FINGERPRINT = request_fingerprint("POST", "/v1/widgets", {"name": "sprocket"})


@pytest.fixture
def store(schema_pool: asyncpg.Pool) -> PostgresEventStore:
    return PostgresEventStore(schema_pool, source="/billing/test")


def widget_created(widget_id: str) -> EventEnvelope:
    return EventEnvelope(
        id=uuid.uuid4(),
        type="billing.test.WidgetCreated",
        source="/billing/test",
        subject=widget_id,
        time=datetime(2026, 1, 1, tzinfo=timezone.utc),
        schema_version=1,
        data={"widget_id": widget_id},
    )


class WidgetFactory:
    """An operation that records a WidgetCreated event, counting how often it ran; optionally
    every run waits for its twins first, so concurrent requests really overlap."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        stream_id: str | None = None,
        twins: asyncio.Barrier | None = None,
    ) -> None:
        self.store = store
        self.stream_id = stream_id
        self.twins = twins
        self.runs = 0

    async def __call__(self, conn: asyncpg.Connection) -> IdempotentResult:
        self.runs += 1
        if self.twins is not None:
            async with asyncio.timeout(10):  # fail, not hang, if a twin never gets here
                await self.twins.wait()
        widget_id = f"w-{uuid.uuid4().hex[:8]}"
        stream_id = self.stream_id or widget_id
        await self.store.append(stream_id, 0, [widget_created(widget_id)], connection=conn)
        location = {"Location": f"/v1/widgets/{widget_id}"}
        return IdempotentResult(201, {"widget_id": widget_id}, location)


async def create_widget(
    pool: asyncpg.Pool, operation: Operation, *, key: str | None, principal: str = "crm",
    fingerprint: str = FINGERPRINT,
):
    return await run_idempotently(
        pool, principal=principal, key=key, request_fingerprint=fingerprint, operation=operation
    )


async def events_recorded(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT subject FROM events ORDER BY position")
    return [row["subject"] for row in rows]


async def test_a_retry_with_the_same_key_and_body_replays_the_first_response(schema_pool, store):
    create = WidgetFactory(store)

    first = await create_widget(schema_pool, create, key="key-1")
    retry = await create_widget(schema_pool, create, key="key-1")

    assert create.runs == 1
    assert not first.replayed and retry.replayed
    assert retry.result == first.result
    assert retry.result.headers["Location"] == f"/v1/widgets/{first.result.body['widget_id']}"
    assert await events_recorded(schema_pool) == [first.result.body["widget_id"]]


async def test_the_same_key_with_another_body_is_422_naming_the_idempotency_key(schema_pool, store):
    create = WidgetFactory(store)
    await create_widget(schema_pool, create, key="key-1")

    other_body = request_fingerprint("POST", "/v1/widgets", {"name": "gear"})
    with pytest.raises(Problem) as refused:
        await create_widget(schema_pool, create, key="key-1", fingerprint=other_body)

    assert refused.value.status == 422
    assert refused.value.title == "Idempotency-Key reused with a different request"
    assert [error.field for error in refused.value.errors] == ["Idempotency-Key"]
    assert create.runs == 1


async def test_two_concurrent_requests_with_the_same_key_commit_once_and_answer_alike(
    schema_pool, store
):
    create = WidgetFactory(store, twins=asyncio.Barrier(2))

    first, second = await asyncio.gather(
        create_widget(schema_pool, create, key="key-1"),
        create_widget(schema_pool, create, key="key-1"),
    )

    assert create.runs == 2  # both really ran, overlapping...
    assert first.result == second.result  # ...yet both answer with the winner's response
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert await events_recorded(schema_pool) == [first.result.body["widget_id"]]


async def test_a_concurrent_twin_tripping_over_the_winners_effect_gets_the_winners_response(
    schema_pool, store
):
    # both append to the same new stream: the loser's append fails with a concurrency conflict
    # once the winner commits, and the loser answers with the winner's stored response instead
    create = WidgetFactory(store, stream_id="widget-sprocket", twins=asyncio.Barrier(2))

    first, second = await asyncio.gather(
        create_widget(schema_pool, create, key="key-1"),
        create_widget(schema_pool, create, key="key-1"),
    )

    assert first.result == second.result
    assert sorted([first.replayed, second.replayed]) == [False, True]
    assert await events_recorded(schema_pool) == [first.result.body["widget_id"]]


async def test_a_problem_from_the_operation_stores_nothing_so_a_retry_runs_again(
    schema_pool, store
):
    create = WidgetFactory(store)
    attempts = 0

    async def refused_then_accepted(conn: asyncpg.Connection) -> IdempotentResult:
        nonlocal attempts
        attempts += 1
        result = await create(conn)  # its event must roll back with the refusal
        if attempts == 1:
            raise Problem(409, detail="not yet", slug="not-yet")
        return result

    with pytest.raises(Problem) as refused:
        await create_widget(schema_pool, refused_then_accepted, key="key-1")
    assert refused.value.status == 409
    assert await events_recorded(schema_pool) == []
    assert await schema_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    retry = await create_widget(schema_pool, refused_then_accepted, key="key-1")

    assert not retry.replayed
    assert await events_recorded(schema_pool) == [retry.result.body["widget_id"]]


async def test_without_a_key_every_request_runs(schema_pool, store):
    create = WidgetFactory(store)

    first = await create_widget(schema_pool, create, key=None)
    second = await create_widget(schema_pool, create, key=None)

    assert create.runs == 2
    assert first.result != second.result
    assert await schema_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_keys_belong_to_the_calling_system(schema_pool, store):
    create = WidgetFactory(store)

    crm = await create_widget(schema_pool, create, key="key-1", principal="crm")
    portal = await create_widget(schema_pool, create, key="key-1", principal="portal")

    assert not portal.replayed
    assert portal.result != crm.result


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "é-accented"])
async def test_a_malformed_key_is_400_naming_the_header(schema_pool, store, key):
    create = WidgetFactory(store)

    with pytest.raises(Problem) as refused:
        await create_widget(schema_pool, create, key=key)

    assert refused.value.status == 400
    assert [error.field for error in refused.value.errors] == ["Idempotency-Key"]
    assert create.runs == 0


async def test_purge_deletes_only_keys_older_than_asked(schema_pool, store):
    create = WidgetFactory(store)
    await create_widget(schema_pool, create, key="old")
    await create_widget(schema_pool, create, key="new")
    await schema_pool.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
        "WHERE idempotency_key = 'old'"
    )

    purged = await purge_idempotency_keys(schema_pool, older_than=timedelta(hours=24))

    assert purged == 1
    assert await schema_pool.fetch("SELECT idempotency_key FROM idempotency_keys") == [("new",)]


class WidgetCreate(BaseModel):
    name: str


def a_widget_api(pool: asyncpg.Pool, store: PostgresEventStore) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    ApiTokens({"crm-token": TokenGrant(system="crm", scopes=["widgets:write"])}).install(app)
    create = WidgetFactory(store)

    @app.post("/v1/widgets", status_code=201)
    async def create_widget_route(
        widget: WidgetCreate,
        request: Request,
        principal: Annotated[Principal, Depends(require_scopes("widgets:write"))],
        idempotency_key: IdempotencyKey,
    ) -> JSONResponse:
        outcome = await run_idempotently(
            pool,
            principal=principal.system,
            key=idempotency_key,
            request_fingerprint=request_fingerprint(
                request.method, request.url.path, widget.model_dump(mode="json")
            ),
            operation=create,
        )
        return outcome.to_response()

    return app


@pytest.fixture
async def widget_api(schema_pool, store) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=a_widget_api(schema_pool, store))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": "Bearer crm-token"}
    ) as client:
        yield client


async def test_over_http_a_retry_is_marked_replayed_and_keeps_location(widget_api, schema_pool):
    headers = {"Idempotency-Key": "7b7f5a0e-retry"}

    first = await widget_api.post("/v1/widgets", json={"name": "sprocket"}, headers=headers)
    retry = await widget_api.post("/v1/widgets", json={"name": "sprocket"}, headers=headers)
    other = await widget_api.post("/v1/widgets", json={"name": "gear"}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(await events_recorded(schema_pool)) == 1


async def test_over_http_a_malformed_key_is_refused_before_anything_runs(widget_api, schema_pool):
    response = await widget_api.post(
        "/v1/widgets", json={"name": "sprocket"}, headers={"Idempotency-Key": "x" * 300}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await events_recorded(schema_pool) == []
