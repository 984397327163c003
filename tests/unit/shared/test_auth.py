"""Bearer tokens per calling system: who may call, and with which scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from shared.http.auth import ApiTokens, CurrentPrincipal, Principal, TokenGrant, require_scopes
from shared.http.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers

CRM_TOKEN = "crm-secret-token"
PORTAL_TOKEN = "portal-secret-token"
DEVELOPER_TOKEN = "developer-token"


def an_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    ApiTokens(
        {
            CRM_TOKEN: TokenGrant(system="crm", scopes=["registration:read", "registration:write"]),
            PORTAL_TOKEN: TokenGrant(system="portal", scopes=["registration:read"]),
            DEVELOPER_TOKEN: TokenGrant(system="developer", scopes=["*"]),
        }
    ).install(app)

    @app.post("/v1/customers")
    async def register(
        principal: Annotated[Principal, Depends(require_scopes("registration:write"))],
    ) -> dict[str, str]:
        return {"registered_by": principal.system}

    @app.get("/v1/me")
    async def me(principal: CurrentPrincipal) -> dict[str, object]:
        return {"system": principal.system, "scopes": sorted(principal.scopes)}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=an_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(client):
    response = await client.post("/v1/customers")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == "/problems/unauthorized"


async def test_an_unknown_token_is_401(client):
    response = await client.post("/v1/customers", headers=bearer("guessed-token"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_another_scheme_than_bearer_is_401(client):
    response = await client.post("/v1/customers", headers={"Authorization": f"Basic {CRM_TOKEN}"})

    assert response.status_code == 401


async def test_a_token_lacking_the_scope_is_403_naming_the_missing_scope(client):
    response = await client.post("/v1/customers", headers=bearer(PORTAL_TOKEN))

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["type"] == "/problems/insufficient-scope"
    assert problem["missing_scopes"] == ["registration:write"]
    assert "registration:write" in problem["detail"]


async def test_a_token_with_the_scope_is_let_through_as_its_system(client):
    response = await client.post("/v1/customers", headers=bearer(CRM_TOKEN))

    assert response.status_code == 200
    assert response.json() == {"registered_by": "crm"}


async def test_any_valid_token_is_a_current_principal(client):
    response = await client.get("/v1/me", headers=bearer(PORTAL_TOKEN))

    assert response.json() == {"system": "portal", "scopes": ["registration:read"]}


async def test_the_development_wildcard_scope_grants_every_scope(client):
    response = await client.post("/v1/customers", headers=bearer(DEVELOPER_TOKEN))

    assert response.json() == {"registered_by": "developer"}


def test_tokens_are_kept_only_as_digests():
    tokens = ApiTokens({CRM_TOKEN: TokenGrant(system="crm", scopes=[])})

    assert CRM_TOKEN not in repr(vars(tokens))
    assert tokens.authenticate(CRM_TOKEN) == Principal("crm", frozenset())
    assert tokens.authenticate(CRM_TOKEN + "x") is None


def test_openapi_declares_the_bearer_scheme_on_protected_routes():
    document = an_app().openapi()

    assert document["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerToken"]["description"],
    }
    assert document["paths"]["/v1/customers"]["post"]["security"] == [{"bearerToken": []}]
