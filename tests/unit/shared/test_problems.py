"""Every error a service answers is RFC 9457 problem+json that names what went wrong."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from shared.http.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_RESPONSES,
    FieldError,
    Problem,
    field_path,
    install_problem_handlers,
)


class EmailAddress(BaseModel):
    address: str


class Contact(BaseModel):
    emails: list[EmailAddress]


class CustomerCreate(BaseModel):
    name: str
    contact: Contact


def an_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/customers", status_code=201, responses=PROBLEM_RESPONSES)
    async def register(customer: CustomerCreate, limit: int = 10) -> dict[str, str]:
        if customer.name == "taken":
            raise Problem(
                409,
                "Customer already registered",
                "A customer with this e-mail address exists.",
                slug="customer-already-registered",
                errors=[FieldError(field="contact.emails[0].address", message="already in use")],
                existing_customer_id="c-42",
            )
        return {"customer_id": "c-1"}

    @app.get("/v1/customers/{customer_id}")
    async def find(customer_id: str) -> dict[str, str]:
        raise HTTPException(404, "No customer c-404")

    @app.get("/v1/crash")
    async def crash() -> None:
        raise RuntimeError("password=hunter2 in the connection string")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=an_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_raised_problem_answers_with_its_type_instance_and_extension_members(client):
    body = {"name": "taken", "contact": {"emails": [{"address": "a@example.org"}]}}

    response = await client.post("/v1/customers", json=body)

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json() == {
        "type": "/problems/customer-already-registered",
        "title": "Customer already registered",
        "status": 409,
        "detail": "A customer with this e-mail address exists.",
        "instance": "/v1/customers",
        "errors": [{"field": "contact.emails[0].address", "message": "already in use"}],
        "existing_customer_id": "c-42",
    }


async def test_invalid_body_names_each_offending_field_by_its_path_without_body_prefix(client):
    response = await client.post(
        "/v1/customers", json={"contact": {"emails": [{"address": "a@example.org"}, {}]}}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    assert problem["instance"] == "/v1/customers"
    assert {error["field"] for error in problem["errors"]} == {"name", "contact.emails[1].address"}
    assert all(error["message"] for error in problem["errors"])


async def test_invalid_query_parameter_is_named_with_where_it_came_from(client):
    body = {"name": "n", "contact": {"emails": []}}

    response = await client.post("/v1/customers?limit=many", json=body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["query.limit"]


async def test_malformed_json_is_a_422_on_the_body(client):
    response = await client.post(
        "/v1/customers", content=b'{"name": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


async def test_http_exceptions_and_unknown_routes_are_problems_too(client):
    not_found = await client.get("/v1/customers/c-404")
    no_route = await client.get("/v1/nowhere")
    wrong_method = await client.delete("/v1/customers")

    assert not_found.status_code == 404
    assert not_found.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert not_found.json()["detail"] == "No customer c-404"
    assert no_route.status_code == 404
    assert no_route.json() == {
        "type": "about:blank", "title": "Not Found", "status": 404, "instance": "/v1/nowhere"
    }
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_an_unexpected_error_is_a_bare_500_and_is_logged_with_its_traceback(client, caplog):
    with caplog.at_level(logging.ERROR, logger="shared.http.problems"):
        response = await client.get("/v1/crash")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["title"] == "Internal Server Error"
    assert "hunter2" not in response.text
    [record] = caplog.records
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


def test_openapi_declares_problem_bodies_instead_of_fastapis_validation_error():
    document = an_app().openapi()

    responses = document["paths"]["/v1/customers"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "409", "422"):
        assert list(responses[status]["content"]) == [PROBLEM_MEDIA_TYPE]
        schema = responses[status]["content"][PROBLEM_MEDIA_TYPE]["schema"]
        assert schema == {"$ref": "#/components/schemas/ProblemDetails"}
    find_responses = document["paths"]["/v1/customers/{customer_id}"]["get"]["responses"]
    assert list(find_responses["422"]["content"]) == [PROBLEM_MEDIA_TYPE]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"ProblemDetails", "FieldError"} <= set(document["components"]["schemas"])


@pytest.mark.parametrize(
    ("location", "path"),
    [
        (("body", "contact", "emails", 0, "address"), "contact.emails[0].address"),
        (("body", "lines", 2), "lines[2]"),
        (("body",), "body"),
        (("query", "limit"), "query.limit"),
        (("header", "idempotency-key"), "header.idempotency-key"),
    ],
)
def test_field_paths_read_as_the_client_wrote_them(location, path):
    assert field_path(location) == path
