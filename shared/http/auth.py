"""Who is calling: bearer tokens, one per calling system, each granting scopes.

Tokens are configured per deployment (``<SERVICE>_API_TOKENS``, see ``shared.settings``) and kept
in memory only as SHA-256 digests, so a heap dump or a debug print shows no usable secret.
Routes declare what they need with ``require_scopes``:

    CanRegister = Annotated[Principal, Depends(require_scopes("registration:write"))]

    @router.post("/v1/customers")
    async def register(customer: CustomerCreate, principal: CanRegister): ...
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from shared.http.problems import Problem

ALL_SCOPES = "*"  # granted only by development tokens; lets a local caller try every route

bearer_scheme = HTTPBearer(
    auto_error=False,  # we answer 401 ourselves, as problem+json with WWW-Authenticate
    scheme_name="bearerToken",
    description="A token issued to one calling system; its scopes decide what it may do.",
)


class TokenGrant(BaseModel):
    """What one configured token stands for: the calling system and the scopes it holds."""

    system: str = Field(min_length=1, description='The calling system, e.g. "crm".')
    scopes: list[str] = Field(default_factory=list, description='e.g. ["registration:write"].')


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request; its ``system`` also scopes idempotency keys."""

    system: str
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or ALL_SCOPES in self.scopes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class ApiTokens:
    """The tokens a deployment accepts, held as digests and compared in constant time."""

    def __init__(self, grants: Mapping[str, TokenGrant]) -> None:
        self._principals = [
            (_digest(token), Principal(grant.system, frozenset(grant.scopes)))
            for token, grant in grants.items()
        ]

    def authenticate(self, token: str) -> Principal | None:
        """The principal the token belongs to, or None.

        Every stored digest is compared, with no early exit, so timing says nothing about which
        token nearly matched."""
        presented = _digest(token)
        found: Principal | None = None
        for digest, principal in self._principals:
            if hmac.compare_digest(digest, presented):
                found = principal
        return found

    def install(self, app: FastAPI) -> None:
        """Make these the tokens ``require_scopes`` checks for requests to ``app``."""
        app.state.api_tokens = self


def _api_tokens_of(request: Request) -> ApiTokens:
    tokens = getattr(request.app.state, "api_tokens", None)
    if not isinstance(tokens, ApiTokens):
        raise RuntimeError("no ApiTokens installed on this app; call ApiTokens(...).install(app)")
    return tokens


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail=detail, slug="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and insists it holds every one of ``scopes``.

    Missing or unknown token: 401 with ``WWW-Authenticate: Bearer``. Known token lacking a scope:
    403 naming the missing scopes, so the calling team knows what to ask for."""
    required = tuple(scopes)

    async def authenticated_principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("A bearer token is required (Authorization: Bearer <token>).")
        principal = _api_tokens_of(request).authenticate(credentials.credentials)
        if principal is None:
            raise _unauthorized("The bearer token is not valid.")
        missing = [scope for scope in required if not principal.has_scope(scope)]
        if missing:
            raise Problem(
                403,
                detail=f"The token of {principal.system!r} lacks the scope(s): "
                f"{', '.join(missing)}.",
                slug="insufficient-scope",
                missing_scopes=missing,
            )
        return principal

    return authenticated_principal


CurrentPrincipal = Annotated[Principal, Depends(require_scopes())]
"""Any authenticated caller, whatever its scopes."""
