"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error a service answers, whether raised on purpose (``Problem``), found by request validation,
raised by routing (404, 405) or never expected (500), has the same shape, so calling systems parse
one format and can point at the offending field:

    {"type": "/problems/validation", "title": "Unprocessable Entity", "status": 422,
     "detail": "The request has 1 invalid field", "instance": "/v1/customers",
     "errors": [{"field": "contact.emails[0].address", "message": "value is not a valid email"}]}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.eventstore.model import ConcurrencyConflict
from shared.rules import RuleViolated

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "/problems/"

logger = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One offending input: where it is (a dotted, indexed path or a header name), what is wrong."""

    field: str = Field(description='Path of the field, e.g. "contact.emails[0].address".')
    message: str = Field(description="What is wrong with it, for a human.")


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457); extension members may follow these."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        default="about:blank",
        description="URI reference identifying the problem type, e.g. /problems/validation.",
    )
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="Explanation of this occurrence.")
    instance: str | None = Field(default=None, description="The request path that failed.")
    errors: list[FieldError] | None = Field(
        default=None, description="The offending fields, when the input was at fault."
    )


class Problem(Exception):
    """An error a handler or dependency raises to answer with a problem+json response.

    ``slug`` names the problem type (``/problems/<slug>``) so clients can branch on it without
    parsing prose; ``extensions`` become extra members (e.g. ``existing_customer_id``)."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = f"{PROBLEM_TYPE_PREFIX}{slug}" if slug else "about:blank"
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {self.title}" + (f": {detail}" if detail else ""))

    def to_body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON object of the response; ``instance`` is the request path."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if instance is not None:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [error.model_dump() for error in self.errors]
        body.update(self.extensions)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """Render a Problem as the response a client receives."""
    return JSONResponse(
        problem.to_body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def field_path(location: Iterable[str | int]) -> str:
    """Turn a pydantic error location into the path a client wrote.

    ``("body", "contact", "emails", 0, "address")`` becomes ``contact.emails[0].address``: the body
    is what the client sent, so "body" is implied; query, path and header parameters keep their
    origin (``query.limit``) because the same name may appear in two places."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    for error in exc.errors():
        location = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            # the location's second element is a character offset, not a field
            errors.append(FieldError(field="body", message=f"invalid JSON: {error.get('msg')}"))
            continue
        errors.append(FieldError(field=field_path(location), message=str(error.get("msg", ""))))
    count = len(errors)
    return Problem(
        422,
        detail=f"The request has {count} invalid field{'s' if count != 1 else ''}",
        slug="validation",
        errors=errors,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(exc), request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    default_phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != default_phrase else None
    problem = Problem(exc.status_code, detail=detail, headers=exc.headers)
    return problem_response(problem, request.url.path)


class UnhandledErrorMiddleware:
    """Answer an unexpected exception with a bare 500 problem, and log it with its traceback.

    A middleware rather than an ``Exception`` handler: Starlette runs that handler outside every
    user middleware and then re-raises, so the response would miss the correlation id and the
    request metrics, and the server would log the traceback a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracking_start(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_start)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise  # too late to answer differently; let the server drop the connection
            problem = Problem(500, detail="An unexpected error occurred; it has been logged.")
            await problem_response(problem, scope.get("path"))(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response.

    Adds ``UnhandledErrorMiddleware``; call this before adding the middleware that should see its
    500 responses (logging, metrics), since the last middleware added is the outermost."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_middleware(UnhandledErrorMiddleware)
    _document_problem_bodies(app)


_STANDARD_DESCRIPTIONS = {
    400: "The request is malformed (e.g. a bad header).",
    401: "No valid bearer token.",
    403: "The token lacks a required scope.",
    404: "No such resource.",
    409: "The request conflicts with the current state.",
    422: "The request body or parameters are invalid; `errors` names each field.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring problem+json bodies for the given statuses, for routers:
    ``@router.post(..., responses=problem_responses(401, 403, 409, 422))``."""
    return {
        status: {
            "model": ProblemDetails,
            "description": _STANDARD_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


PROBLEM_RESPONSES = problem_responses(400, 401, 403, 404, 409, 422)


def _document_problem_bodies(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers above really answer.

    FastAPI files a ``model`` of extra responses under application/json and adds its own 422
    (``HTTPValidationError``) to every route with parameters; both are rewritten to
    application/problem+json with the ``ProblemDetails`` schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI; the rewrite below is idempotent
        _rewrite_problem_responses(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_PROBLEM_SCHEMA_REF = "#/components/schemas/ProblemDetails"
_FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"


def _rewrite_problem_responses(schema: dict[str, Any]) -> None:
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                reference = content.get("application/json", {}).get("schema", {}).get("$ref")
                if reference == _FASTAPI_VALIDATION_REF and status == "422":
                    response["description"] = _STANDARD_DESCRIPTIONS[422]
                elif reference != _PROBLEM_SCHEMA_REF:
                    continue
                del content["application/json"]
                content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": _PROBLEM_SCHEMA_REF}}

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if _FASTAPI_VALIDATION_REF not in json.dumps(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in problem_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("ProblemDetails", problem_schema)


def rule_violated_problem(error: RuleViolated) -> Problem:
    """A domain's refusal of a command, pointing at the field to change."""
    return Problem(422, detail=error.message, slug="rule-violated",
                   errors=[FieldError(field=error.field, message=error.message)])


def concurrency_problem(request: Request, error: ConcurrencyConflict, subject: str) -> Problem:
    """A write that lost a race: 412 when the caller pinned a version with If-Match (it must read
    again), 409 otherwise (retrying is safe)."""
    if request.headers.get("if-match") is not None:
        return Problem(412, detail=f"the {subject} is no longer at version {error.expected_version}",
                       slug="version-mismatch", errors=[FieldError(field="If-Match", message="stale version")])
    return Problem(409, detail=f"the {subject} changed concurrently; retry", slug="concurrent-update")
