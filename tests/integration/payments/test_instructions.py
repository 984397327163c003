"""How a business's customers can pay, over HTTP against the real PostgreSQL and Kafka: published
and read back with its version, changed only from the version the caller read, refused when an
option lacks what a customer needs to use it, and announced on payments.events."""

from __future__ import annotations

from typing import Any

from tests.integration.payments.conftest import RunningPayments, unique

PROBLEM = "application/problem+json"
CARD = {"method": "card", "label": "Pay by card", "url": "https://pay.example.com/riverside",
        "reference_hint": "your invoice number"}
BANK = {"method": "bank_transfer", "label": "Bank transfer", "account_name": "Riverside Clinic LLC",
        "bank_name": "First Example Bank", "routing_number": "011000015", "account_number": "000123456789"}
CHEQUE = {"method": "cheque", "label": "Cheque by post", "payable_to": "Riverside Clinic LLC",
          "address_lines": ["Riverside Clinic, Billing Office", "12 Mill Lane", "Springfield, IL 62701"]}


def instructions(*options: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"business_name": "Riverside Clinic", "options": list(options),
            "notes": "Questions about a bill? Call 555-0100.", **overrides}


def path_of(business_id: str) -> str:
    return f"/v1/businesses/{business_id}/payment-instructions"


async def test_instructions_are_published_read_back_and_announced(payments: RunningPayments) -> None:
    business = unique("biz_")

    published = await payments.api.put(path_of(business), json=instructions(CARD, BANK, CHEQUE))

    assert published.status_code == 200, published.text
    assert published.headers["ETag"] == '"1"'
    body = published.json()
    assert (body["business_id"], body["business_name"], body["version"]) == (business, "Riverside Clinic", 1)
    assert [o["method"] for o in body["options"]] == ["card", "bank_transfer", "cheque"]
    assert body["options"][2]["address_lines"] == CHEQUE["address_lines"]

    read = await payments.api.get(path_of(business))
    assert read.status_code == 200, read.text
    assert read.headers["ETag"] == '"1"'
    assert read.json() == body

    [event] = await payments.events_of(business, "PaymentInstructionsPublished", 1)
    assert (event["business_id"], event["business_name"], event["notes"]) == (
        business, "Riverside Clinic", "Questions about a bill? Call 555-0100.")
    assert [o["method"] for o in event["options"]] == ["card", "bank_transfer", "cheque"]
    assert event["options"][0]["url"] == CARD["url"]
    assert event["published_by"] == "front-desk"


async def test_a_change_from_the_version_read_is_the_next_version_and_a_stale_one_is_refused(
    payments: RunningPayments,
) -> None:
    business = unique("biz_")
    first = await payments.api.put(path_of(business), json=instructions(CARD, CHEQUE))
    assert first.status_code == 200, first.text

    changed = await payments.api.put(path_of(business), json=instructions(BANK, notes=None),
                                     headers={"If-Match": first.headers["ETag"]})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["version"], changed.json()["notes"]) == (2, None)
    assert [o["method"] for o in changed.json()["options"]] == ["bank_transfer"]

    stale = await payments.api.put(path_of(business), json=instructions(CARD), headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["errors"][0]["field"] == "If-Match"

    current = await payments.api.get(path_of(business))
    assert current.headers["ETag"] == '"2"'
    assert [o["method"] for o in current.json()["options"]] == ["bank_transfer"]
    published = await payments.events_of(business, "PaymentInstructionsPublished", 2)
    assert [[o["method"] for o in e["options"]] for e in published] == [["card", "cheque"], ["bank_transfer"]]


async def test_a_first_publication_pinned_to_a_version_that_never_was_is_refused(
    payments: RunningPayments,
) -> None:
    business = unique("biz_")
    pinned = await payments.api.put(path_of(business), json=instructions(CARD), headers={"If-Match": '"1"'})
    assert pinned.status_code == 412, pinned.text
    assert (await payments.api.get(path_of(business))).status_code == 404


async def test_an_option_missing_what_a_customer_needs_is_a_problem_naming_options(
    payments: RunningPayments,
) -> None:
    business = unique("biz_")
    card_without_url = {key: value for key, value in CARD.items() if key != "url"}
    cheque_without_address = {key: value for key, value in CHEQUE.items() if key != "address_lines"}
    bank_without_account = {key: value for key, value in BANK.items() if key != "account_number"}

    for options, needs in [
        ([card_without_url], "options[0] (card) needs url"),
        ([CARD, cheque_without_address], "options[1] (cheque) needs address_lines"),
        ([bank_without_account], "options[0] (bank_transfer) needs iban (or routing_number and account_number)"),
        ([], None),
    ]:
        answer = await payments.api.put(path_of(business), json=instructions(*options))
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == PROBLEM
        [error] = answer.json()["errors"]
        assert error["field"] == "options"
        if needs:
            assert needs in error["message"]

    assert (await payments.api.get(path_of(business))).status_code == 404


async def test_a_business_with_nothing_published_is_a_problem_naming_it(payments: RunningPayments) -> None:
    missing = await payments.api.get(path_of(unique("biz_")))
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["errors"][0]["field"] == "business_id"
