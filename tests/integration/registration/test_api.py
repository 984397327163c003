"""The registration HTTP API as calling systems use it, in-process against the real PostgreSQL and
Kafka: what they send, what they get back, and what the service then knows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from services.registration.domain.events import CustomerRegistered
from tests.integration.registration.conftest import READER_TOKEN, WRITER_TOKEN, RunningService
from tests.polling import eventually

pytestmark = pytest.mark.integration

WRITER = {"Authorization": f"Bearer {WRITER_TOKEN}"}
READER = {"Authorization": f"Bearer {READER_TOKEN}"}
PROBLEM_JSON = "application/problem+json"
Body = dict[str, Any]


def unique() -> str:
    return uuid.uuid4().hex[:10]


def a_phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


def a_person(*, given: str = "Ada", family: str | None = None, **overrides: Any) -> Body:
    """A registration body no other test (or earlier run) uses: its name and e-mail are unique."""
    tag = unique()
    return {
        "kind": "person",
        "person_name": {"given": given, "family": family or f"Lovelace-{tag}"},
        "date_of_birth": "1985-12-10",
        "contact": {
            "emails": [{"address": f"ada.{tag}@example.com"}],
            "phones": [{"number": a_phone(), "use": "mobile"}],
            "addresses": [{
                "lines": ["12 Analytical Row"], "city": "Springfield", "region": "IL",
                "postal_code": "62701", "country": "US",
            }],
            "preferred_channel": "email",
            "consents": {"email": True, "sms": True},
            "time_zone": "America/Chicago",
        },
        **overrides,
    }


def coverage_terms(**overrides: Any) -> Body:
    return {
        "payer_id": "payer-acme",
        "payer_kind": "insurer",
        "member_id": f"M-{unique()}",
        "plan_name": "Gold PPO",
        "priority": "primary",
        "subscriber": {"relationship": "self"},
        "effective_from": "2026-01-01",
        **overrides,
    }


async def register(api: httpx.AsyncClient, body: Body | None = None) -> Body:
    response = await api.post("/v1/customers", json=body or a_person(), headers=WRITER)
    assert response.status_code == 201, response.text
    return response.json()


async def customer(api: httpx.AsyncClient, customer_id: str) -> Body:
    response = await api.get(f"/v1/customers/{customer_id}", headers=READER)
    assert response.status_code == 200, response.text
    return response.json()


async def history(api: httpx.AsyncClient, customer_id: str) -> list[Body]:
    response = await api.get(f"/v1/customers/{customer_id}/events", headers=READER)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def problem(response: httpx.Response, status: int, slug: str | None = None) -> Body:
    """The problem+json body of an error response, checked to be one."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"/problems/{slug}"
    return body


def fields(problem_body: Body) -> list[str]:
    return [error["field"] for error in problem_body.get("errors", [])]


async def registered_count(service: RunningService, family: str) -> int:
    """How many CustomerRegistered events the store holds for people of that family name."""
    return await service.pool.fetchval(
        "SELECT count(*) FROM events"
        " WHERE event_type = $1 AND data #>> '{person_name,family}' = $2",
        CustomerRegistered.event_type, family,
    )


# -- registering and reading ------------------------------------------------------------------


async def test_a_registered_customer_is_answered_with_location_and_version_and_reads_back(
    service: RunningService,
):
    api = service.api
    body = a_person()

    created = await api.post("/v1/customers", json=body, headers=WRITER)

    assert created.status_code == 201, created.text
    customer_id = created.json()["customer_id"]
    assert created.headers["location"] == f"/v1/customers/{customer_id}"
    assert created.headers["etag"] == '"1"'
    read = await api.get(created.headers["location"], headers=READER)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == created.json()
    assert read.json()["version"] == 1
    assert read.json()["person_name"] == {**body["person_name"], "middle": None}
    assert read.json()["registered_at"] == "2026-03-02T09:30:00Z"
    assert set(read.json()["contact_point_status"].values()) == {"unverified"}


async def test_a_request_without_a_valid_token_is_refused_with_401_and_a_bearer_challenge(
    service: RunningService,
):
    without = await service.api.post("/v1/customers", json=a_person())
    unknown = await service.api.get(
        "/v1/customers/cus_any", headers={"Authorization": "Bearer not-a-token"}
    )

    for response in (without, unknown):
        problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_read_only_token_cannot_register_and_is_told_which_scope_it_lacks(
    service: RunningService,
):
    api = service.api
    body = a_person()

    refused = await api.post("/v1/customers", json=body, headers=READER)

    refusal = problem(refused, 403, "insufficient-scope")
    assert "registration:write" in refusal["detail"]
    assert refusal["missing_scopes"] == ["registration:write"]
    assert await registered_count(service, body["person_name"]["family"]) == 0
    someone = await register(api)
    read = await api.get(f"/v1/customers/{someone['customer_id']}", headers=READER)
    assert read.status_code == 200  # reading is what the token is for


async def test_an_invalid_body_is_refused_with_422_naming_each_field_by_its_path(
    service: RunningService,
):
    body = a_person()
    body["contact"]["phones"] = [{"number": "555-0100"}]
    body["contact"]["emails"] = [{"address": "ada-at-example.com"}]
    body["contact"]["time_zone"] = "Mars/Olympus_Mons"

    refused = await service.api.post("/v1/customers", json=body, headers=WRITER)

    refusal = problem(refused, 422, "validation")
    assert fields(refusal) == [
        "contact.phones[0].number", "contact.emails[0].address", "contact.time_zone",
    ]
    assert refusal["instance"] == "/v1/customers"


# -- idempotent retries -------------------------------------------------------------------------


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_registers_once(
    service: RunningService,
):
    api = service.api
    body = a_person()
    headers = {**WRITER, "Idempotency-Key": f"register-{unique()}"}

    first = await api.post("/v1/customers", json=body, headers=headers)
    retried = await api.post("/v1/customers", json=body, headers=headers)

    assert first.status_code == retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in first.headers
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == first.json()
    assert retried.headers["location"] == first.headers["location"]
    assert await registered_count(service, body["person_name"]["family"]) == 1


async def test_an_idempotency_key_reused_for_another_body_is_refused_naming_the_header(
    service: RunningService,
):
    api = service.api
    headers = {**WRITER, "Idempotency-Key": f"register-{unique()}"}
    assert (await api.post("/v1/customers", json=a_person(), headers=headers)).status_code == 201
    other = a_person()

    refused = await api.post("/v1/customers", json=other, headers=headers)

    assert fields(problem(refused, 422, "idempotency-key-reused")) == ["Idempotency-Key"]
    assert await registered_count(service, other["person_name"]["family"]) == 0


# -- likely duplicates --------------------------------------------------------------------------


async def test_a_likely_duplicate_is_refused_with_409_until_the_caller_insists(
    service: RunningService,
):
    api = service.api
    existing = await register(api)
    same_person = a_person(family=existing["person_name"]["family"])  # same name and birthday

    refused = await api.post("/v1/customers", json=same_person, headers=WRITER)
    insisted = await api.post(
        "/v1/customers", json={**same_person, "allow_possible_duplicate": True}, headers=WRITER
    )

    refusal = problem(refused, 409, "likely-duplicate")
    assert refusal["existing_customer_id"] == existing["customer_id"]
    assert fields(refusal) == ["allow_possible_duplicate"]
    assert insisted.status_code == 201, insisted.text
    duplicate_id = insisted.json()["customer_id"]
    assert duplicate_id != existing["customer_id"]
    registered_event = (await history(api, duplicate_id))[0]
    assert registered_event["data"]["possible_duplicate_of"] == [existing["customer_id"]]


async def test_the_same_email_address_under_another_name_is_a_likely_duplicate(
    service: RunningService,
):
    existing = await register(service.api)
    other_name = a_person(given="Augusta")
    shouted = existing["contact"]["emails"][0]["address"].upper()
    other_name["contact"]["emails"] = [{"address": shouted}]

    refused = await service.api.post("/v1/customers", json=other_name, headers=WRITER)

    refusal = problem(refused, 409, "likely-duplicate")
    assert refusal["existing_customer_id"] == existing["customer_id"]


# -- contact details ----------------------------------------------------------------------------


async def test_a_contact_point_kept_across_a_change_keeps_its_status_and_a_new_one_is_unverified(
    service: RunningService,
):
    api = service.api
    registered = await register(api)
    customer_id = registered["customer_id"]
    points = f"/v1/customers/{customer_id}/contact-points"
    email_id = registered["contact"]["emails"][0]["id"]
    old_phone_id = registered["contact"]["phones"][0]["id"]
    assert (await api.post(f"{points}/{email_id}/verifications", headers=WRITER)).status_code == 200
    new_contact = a_person()["contact"]  # another phone number, but...
    new_contact["emails"] = [{"address": registered["contact"]["emails"][0]["address"]}]  # same

    changed = await api.put(
        f"/v1/customers/{customer_id}/contact-details", json={"contact": new_contact},
        headers=WRITER,
    )

    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"3"'
    now = await customer(api, customer_id)
    new_phone_id = now["contact"]["phones"][0]["id"]
    assert new_phone_id != old_phone_id
    assert now["contact_point_status"][email_id] == "verified"
    assert now["contact_point_status"][new_phone_id] == "unverified"
    assert old_phone_id not in now["contact_point_status"]


async def test_sending_the_same_contact_details_again_changes_nothing(service: RunningService):
    body = a_person()
    customer_id = (await register(service.api, body))["customer_id"]

    again = await service.api.put(
        f"/v1/customers/{customer_id}/contact-details", json={"contact": body["contact"]},
        headers=WRITER,
    )

    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert len(await history(service.api, customer_id)) == 1


async def test_bounced_and_verified_contact_points_show_their_status_on_the_customer(
    service: RunningService,
):
    api = service.api
    registered = await register(api)
    customer_id = registered["customer_id"]
    points = f"/v1/customers/{customer_id}/contact-points"
    email_id = registered["contact"]["emails"][0]["id"]
    phone_id = registered["contact"]["phones"][0]["id"]
    address_id = registered["contact"]["addresses"][0]["id"]

    bounced = await api.post(
        f"{points}/{email_id}/bounces", json={"reason": "550 mailbox unavailable"}, headers=WRITER
    )
    verified = await api.post(f"{points}/{phone_id}/verifications", headers=WRITER)

    assert bounced.status_code == verified.status_code == 200
    assert (await customer(api, customer_id))["contact_point_status"] == {
        email_id: "bounced", phone_id: "verified", address_id: "unverified",
    }
    bounce = (await history(api, customer_id))[1]
    assert bounce["type"] == "billing.registration.ContactPointBounced"
    assert bounce["data"]["channel"] == "email"
    assert bounce["data"]["reason"] == "550 mailbox unavailable"


async def test_bouncing_a_contact_point_the_customer_does_not_have_is_refused_naming_it(
    service: RunningService,
):
    customer_id = (await register(service.api))["customer_id"]

    refused = await service.api.post(
        f"/v1/customers/{customer_id}/contact-points/email-000000000000/bounces",
        json={"reason": "550"}, headers=WRITER,
    )

    refusal = problem(refused, 422, "rule-violated")
    assert fields(refusal) == ["contact_point_id"]
    assert "email-000000000000" in refusal["detail"]


# -- coverage -----------------------------------------------------------------------------------


async def test_a_coverage_is_added_changed_and_ended_and_cannot_change_after_it_ended(
    service: RunningService,
):
    api = service.api
    customer_id = (await register(api))["customer_id"]
    coverages = f"/v1/customers/{customer_id}/coverages"
    terms = coverage_terms()

    added = await api.post(coverages, json={"terms": terms}, headers=WRITER)
    assert added.status_code == 201, added.text
    coverage_id = added.json()["coverage_id"]
    assert added.headers["location"] == f"{coverages}/{coverage_id}"
    assert added.headers["etag"] == '"2"'
    changed = await api.put(
        f"{coverages}/{coverage_id}", json={"terms": {**terms, "plan_name": "Silver HMO"}},
        headers=WRITER,
    )
    assert changed.status_code == 200, changed.text
    ended = await api.post(
        f"{coverages}/{coverage_id}/end", json={"ended_on": "2026-06-30", "reason": "new employer"},
        headers=WRITER,
    )
    assert ended.status_code == 200, ended.text

    [coverage] = (await customer(api, customer_id))["coverages"]
    assert coverage["coverage_id"] == coverage_id
    assert coverage["terms"]["plan_name"] == "Silver HMO"
    assert coverage["ended_on"] == "2026-06-30"
    after_end = await api.put(
        f"{coverages}/{coverage_id}", json={"terms": {**terms, "plan_name": "Bronze"}},
        headers=WRITER,
    )
    assert fields(problem(after_end, 422, "rule-violated")) == ["coverage_id"]


async def test_a_second_primary_coverage_for_overlapping_dates_is_refused_naming_terms_priority(
    service: RunningService,
):
    api = service.api
    coverages = f"/v1/customers/{(await register(api))['customer_id']}/coverages"
    first = await api.post(coverages, json={"terms": coverage_terms()}, headers=WRITER)
    assert first.status_code == 201, first.text

    overlapping = coverage_terms(effective_from="2026-06-01", payer_id="payer-other")
    second = await api.post(coverages, json={"terms": overlapping}, headers=WRITER)
    secondary = coverage_terms(priority="secondary", payer_id="payer-other")
    alongside = await api.post(coverages, json={"terms": secondary}, headers=WRITER)

    refusal = problem(second, 422, "rule-violated")
    assert fields(refusal) == ["terms.priority"]
    assert first.json()["coverage_id"] in refusal["detail"]
    assert alongside.status_code == 201, alongside.text


async def test_a_coverage_the_customer_does_not_have_is_a_404_problem(service: RunningService):
    customer_id = (await register(service.api))["customer_id"]

    missing = await service.api.post(
        f"/v1/customers/{customer_id}/coverages/cov_unknown/end", json={"ended_on": "2026-06-30"},
        headers=WRITER,
    )

    assert fields(problem(missing, 404, "coverage-not-found")) == ["coverage_id"]


# -- conditional writes -------------------------------------------------------------------------


async def test_a_write_based_on_a_stale_version_is_refused_with_412_and_one_on_the_current_works(
    service: RunningService,
):
    api = service.api
    customer_id = (await register(api))["customer_id"]
    concerns = f"/v1/customers/{customer_id}/special-concerns"
    moved_on = await api.post(concerns, json={"note": "first"}, headers=WRITER)
    assert moved_on.headers["etag"] == '"2"'

    stale = await api.post(
        concerns, json={"note": "from an old screen"}, headers={**WRITER, "If-Match": '"1"'}
    )
    current = await api.post(
        concerns, json={"note": "from a fresh screen"},
        headers={**WRITER, "If-Match": moved_on.headers["etag"]},
    )

    assert fields(problem(stale, 412, "version-mismatch")) == ["If-Match"]
    assert current.status_code == 200, current.text
    assert current.headers["etag"] == '"3"'
    assert (await customer(api, customer_id))["concern_notes"] == ["first", "from a fresh screen"]


# -- programs and special concerns --------------------------------------------------------------


async def test_a_program_enrolment_shows_on_the_customer_and_an_overlapping_one_is_refused(
    service: RunningService,
):
    api = service.api
    customer_id = (await register(api))["customer_id"]
    enrolments = f"/v1/customers/{customer_id}/program-enrolments"
    enrolment = {
        "program_id": "liheap", "reference": "LI-2026-0042",
        "enrolled_from": "2026-01-01", "enrolled_to": "2026-12-31",
    }

    enrolled = await api.post(enrolments, json=enrolment, headers=WRITER)
    overlapping = {**enrolment, "enrolled_from": "2026-06-01"}
    again = await api.post(enrolments, json=overlapping, headers=WRITER)

    assert enrolled.status_code == 201, enrolled.text
    assert (await customer(api, customer_id))["program_enrolments"] == [{
        "enrolment_id": enrolled.json()["enrolment_id"], "program_id": "liheap",
        "enrolled_from": "2026-01-01", "enrolled_to": "2026-12-31", "reference": "LI-2026-0042",
    }]
    assert fields(problem(again, 422, "rule-violated")) == ["program_id"]


async def test_special_concerns_raise_and_clear_flags_and_keep_their_notes(service: RunningService):
    api = service.api
    customer_id = (await register(api, a_person(flags=["interpreter_needed"])))["customer_id"]
    concerns = f"/v1/customers/{customer_id}/special-concerns"

    raised = await api.post(
        concerns, json={"note": "lost job in January", "flags_raised": ["hardship"]}, headers=WRITER
    )
    cleared = await api.post(
        concerns, json={"flags_cleared": ["interpreter_needed"]}, headers=WRITER
    )
    not_set = await api.post(concerns, json={"flags_cleared": ["bankruptcy"]}, headers=WRITER)

    assert raised.json()["flags"] == ["hardship", "interpreter_needed"]
    assert cleared.json()["flags"] == ["hardship"]
    assert not_set.status_code == 200
    assert not_set.json()["version"] == cleared.json()["version"] == 3  # nothing was recorded
    assert not_set.json()["concern_notes"] == ["lost job in January"]


# -- history ------------------------------------------------------------------------------------


async def test_the_event_history_lists_every_change_in_order_with_the_callers_correlation_id(
    service: RunningService,
):
    api = service.api

    def as_part_of(correlation_id: str) -> dict[str, str]:
        return {**WRITER, "X-Correlation-ID": correlation_id}

    created = await api.post("/v1/customers", json=a_person(), headers=as_part_of("intake-7"))
    customer_id = created.json()["customer_id"]
    await api.post(f"/v1/customers/{customer_id}/coverages", json={"terms": coverage_terms()},
                   headers=as_part_of("payer-sync-8"))
    await api.post(f"/v1/customers/{customer_id}/special-concerns",
                   json={"flags_raised": ["hardship"]}, headers=as_part_of("call-centre-9"))

    events = await history(api, customer_id)

    assert created.headers["x-correlation-id"] == "intake-7"
    assert [(e["version"], e["type"], e["correlation_id"]) for e in events] == [
        (1, "billing.registration.CustomerRegistered", "intake-7"),
        (2, "billing.registration.CoverageAdded", "payer-sync-8"),
        (3, "billing.registration.SpecialConcernNoted", "call-centre-9"),
    ]
    assert events[0]["data"]["customer_id"] == customer_id


# -- search (fed through Kafka) ----------------------------------------------------------------


async def search(api: httpx.AsyncClient, **criteria: Any) -> Body:
    response = await api.get("/v1/customers", params=criteria, headers=READER)
    assert response.status_code == 200, response.text
    return response.json()


def found(
    api: httpx.AsyncClient, expected: int, **criteria: Any
) -> Callable[[], Awaitable[Body | None]]:
    """A probe for eventually(): the search result once it holds ``expected`` customers."""

    async def probe() -> Body | None:
        page = await search(api, **criteria)
        return page if len(page["customers"]) == expected else None

    return probe


async def test_a_customer_is_found_by_name_email_phone_and_member_id_once_search_has_caught_up(
    service: RunningService,
):
    api = service.api
    body = a_person(family=f"Searchable-{unique()}")
    registered = await register(api, body)
    customer_id = registered["customer_id"]
    member_id = f"MBR{unique()}"
    covered = await api.post(
        f"/v1/customers/{customer_id}/coverages",
        json={"terms": coverage_terms(member_id=member_id)}, headers=WRITER,
    )
    assert covered.status_code == 201, covered.text

    by_member = await eventually(found(api, 1, member_id=member_id), message="member id unknown")
    by_name = await search(api, name=body["person_name"]["family"].lower())
    by_email = await search(api, email=body["contact"]["emails"][0]["address"].upper())
    by_phone = await search(api, phone=registered["contact"]["phones"][0]["number"])

    for page in (by_member, by_name, by_email, by_phone):
        assert [c["customer_id"] for c in page["customers"]] == [customer_id]
    [summary] = by_member["customers"]
    assert summary["display_name"] == f"Ada {body['person_name']['family']}"
    assert summary["member_ids"] == [member_id]
    assert summary["active_coverages"] == 1


async def test_search_results_are_paged_with_next_page_token(service: RunningService):
    api = service.api
    family = f"Pager{unique()}"
    givens = ["Alice", "Bea", "Cleo", "Dora", "Edda"]
    ids = [(await register(api, a_person(given=g, family=family)))["customer_id"] for g in givens]
    await eventually(found(api, 5, name=family), message="not every customer reached search")

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        paging = {"page_token": token} if token else {}
        page = await search(api, name=family, page_size=2, **paging)
        pages.append([c["customer_id"] for c in page["customers"]])
        token = page["next_page_token"]
        if token is None:
            break

    assert pages == [ids[0:2], ids[2:4], ids[4:5]]  # by family name, then given name


async def test_a_page_token_the_api_did_not_issue_is_refused_naming_it(service: RunningService):
    refused = await service.api.get(
        "/v1/customers", params={"page_token": "bm9wZQ"}, headers=READER
    )

    assert fields(problem(refused, 400, "invalid-page-token")) == ["page_token"]


# -- unknown customers, operations --------------------------------------------------------------


async def test_an_unknown_customer_is_a_404_problem(service: RunningService):
    api = service.api

    responses = [
        await api.get("/v1/customers/cus_unknown", headers=READER),
        await api.get("/v1/customers/cus_unknown/events", headers=READER),
        await api.post("/v1/customers/cus_unknown/special-concerns", json={"note": "x"},
                       headers=WRITER),
    ]

    for response in responses:
        assert "cus_unknown" in problem(response, 404, "customer-not-found")["detail"]


async def test_the_service_is_ready_when_its_database_and_kafka_answer(service: RunningService):
    ready = await service.api.get("/health/ready")

    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok", "checks": {"database": {"status": "ok"}, "kafka": {"status": "ok"}},
    }


async def test_metrics_count_requests_by_route_template_and_status(service: RunningService):
    await service.api.get("/v1/customers/cus_counted", headers=READER)

    metrics = await service.api.get("/metrics")

    assert metrics.status_code == 200
    assert any(
        line.startswith("http_requests_total{")
        and 'method="GET"' in line and 'route="/v1/customers/{customer_id}"' in line
        and 'status="404"' in line and 'service="registration"' in line
        for line in metrics.text.splitlines()
    )


async def test_the_openapi_document_declares_bearer_security_and_problem_responses(
    service: RunningService,
):
    document = (await service.api.get("/openapi.json")).json()

    scheme = document["components"]["securitySchemes"]["bearerToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    register_operation = document["paths"]["/v1/customers"]["post"]
    assert register_operation["security"] == [{"bearerToken": []}]
    problem_body = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    for status in ("401", "403", "409", "422"):
        assert register_operation["responses"][status]["content"] == problem_body
    conditional = document["paths"]["/v1/customers/{customer_id}/special-concerns"]["post"]
    assert conditional["responses"]["412"]["content"] == problem_body
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_a_person_without_a_name_is_refused_naming_person_name(service: RunningService):
    body = a_person()
    del body["person_name"]

    refused = await service.api.post("/v1/customers", json=body, headers=WRITER)

    assert "person_name" in fields(problem(refused, 422, "validation"))


async def test_an_sms_bounce_on_a_phone_is_recorded_as_sms(service: RunningService):
    registered = await register(service.api, a_person())
    phone_id = registered["contact"]["phones"][0]["id"]

    bounced = await service.api.post(
        f"/v1/customers/{registered['customer_id']}/contact-points/{phone_id}/bounces",
        json={"reason": "carrier rejected", "channel": "sms"}, headers=WRITER,
    )

    assert bounced.status_code == 200, bounced.text
    [*_, event] = await history(service.api, registered["customer_id"])
    assert event["type"] == "billing.registration.ContactPointBounced"
    assert event["data"]["channel"] == "sms"


async def test_a_long_history_is_paged_by_version(service: RunningService):
    registered = await register(service.api, a_person())
    customer_id = registered["customer_id"]
    for n in range(4):
        noted = await service.api.post(
            f"/v1/customers/{customer_id}/special-concerns", json={"note": f"note {n}"}, headers=WRITER
        )
        assert noted.status_code == 200, noted.text

    versions, after = [], 0
    while after is not None:
        page = await service.api.get(
            f"/v1/customers/{customer_id}/events", params={"after_version": after, "limit": 2},
            headers=READER,
        )
        assert page.status_code == 200, page.text
        versions += [event["version"] for event in page.json()["events"]]
        after = page.json()["next_after_version"]

    assert versions == [1, 2, 3, 4, 5]
