"""One test per compliance guard, through Kafka and HTTP: the blocked action does not happen, the
postponement says which guard held it and until when, and the action happens once the guard
allows it. Contact verification works the same way: a notice without a usable contact point
waits for new contact details."""

from __future__ import annotations

import json
from datetime import timedelta

from services.registration.domain import events as registration
from tests.integration.collections.conftest import NOW, RunningCollections, contact_details
from tests.polling import eventually


async def _steps(collections: RunningCollections, debt_id: str) -> list[str]:
    return [n["step"] for n in (await collections.debt(debt_id))["notices"]]


async def _postponed(collections: RunningCollections, debt_id: str) -> dict | None:  # type: ignore[type-arg]
    return (await collections.debt(debt_id))["postponed"]


async def test_no_more_than_seven_contact_attempts_in_seven_days(collections: RunningCollections) -> None:
    collections.clock.set(NOW - timedelta(hours=2))
    debt_id, _ = await collections.debt_in_arrears()
    for _ in range(7):
        answer = await collections.api.post(
            f"/v1/debts/{debt_id}/contact-attempts", json={"channel": "phone", "outcome": "no_answer"},
        )
        assert answer.status_code == 201, answer.text

    await collections.run(NOW)
    assert await _steps(collections, debt_id) == []
    postponed = await _postponed(collections, debt_id)
    assert postponed["action"] == "reminder" and postponed["guard"] == "contact_limit"
    assert postponed["until"].startswith((NOW - timedelta(hours=2) + timedelta(days=7)).date().isoformat())

    await collections.run(NOW + timedelta(days=6))  # the window still holds seven attempts
    assert await _steps(collections, debt_id) == []
    assert (await collections.history(debt_id)).count("ActionPostponed") == 1  # recorded once, still waiting

    await collections.run(NOW + timedelta(days=7))
    assert await _steps(collections, debt_id) == ["reminder"]
    assert await _postponed(collections, debt_id) is None


async def test_no_contact_outside_the_customers_local_hours(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, _ = await collections.debt_in_arrears(time_zone="America/Chicago")
    late_evening = NOW.replace(hour=3, minute=30)  # 21:30 the evening before in Chicago (UTC-6)
    await collections.run(late_evening)
    assert await _steps(collections, debt_id) == []
    postponed = await _postponed(collections, debt_id)
    assert postponed["guard"] == "contact_hours"
    assert postponed["until"] == "2026-03-02T08:00:00-06:00"

    await collections.run(NOW.replace(hour=13, minute=59))  # 07:59 in Chicago
    assert await _steps(collections, debt_id) == []
    await collections.run(NOW.replace(hour=14, minute=0))  # 08:00 in Chicago
    assert await _steps(collections, debt_id) == ["reminder"]


async def _flag(collections: RunningCollections, customer_id: str, *, raised=(), cleared=()) -> None:  # type: ignore[no-untyped-def]
    await collections.from_registration(registration.SpecialConcernNoted(
        customer_id=customer_id, flags_raised=list(raised), flags_cleared=list(cleared),
        noted_at=collections.clock.now(),
    ), customer_id)
    wanted = set(raised)

    async def applied() -> bool:
        flags = set(await collections.pool.fetchval("SELECT flags FROM customers WHERE customer_id = $1", customer_id))
        return wanted <= flags and not (set(cleared) & flags)

    await eventually(applied, timeout=20, message=f"collections saw the flags of {customer_id}")


async def test_no_contact_while_the_customer_asked_not_to_be_contacted(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears(flags=[registration.ConcernFlag.DO_NOT_CONTACT])
    await collections.run()
    assert await _steps(collections, debt_id) == []
    assert (await _postponed(collections, debt_id))["guard"] == "do_not_contact"

    await _flag(collections, issued.customer_id, cleared=["do_not_contact"])
    await collections.run()
    assert await _steps(collections, debt_id) == ["reminder"]


async def test_no_contact_while_the_customer_is_recorded_as_deceased(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears()
    await _flag(collections, issued.customer_id, raised=["deceased"])
    await collections.run()
    assert await _steps(collections, debt_id) == []
    assert (await _postponed(collections, debt_id))["guard"] == "deceased"

    await _flag(collections, issued.customer_id, cleared=["deceased"])  # recorded in error
    await collections.run()
    assert await _steps(collections, debt_id) == ["reminder"]


async def test_no_contact_while_a_dispute_is_open(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, _ = await collections.debt_in_arrears()
    opened = await collections.api.post(
        f"/v1/debts/{debt_id}/disputes", json={"reason": "I paid this at the front desk"},
        headers={"Idempotency-Key": f"dispute-{debt_id}"},
    )
    assert opened.status_code == 201, opened.text
    await collections.run()
    assert await _steps(collections, debt_id) == []
    assert (await _postponed(collections, debt_id))["guard"] == "dispute_open"
    assert (await collections.debt(debt_id))["dispute_open"] is True

    resolved = await collections.api.post(
        f"/v1/debts/{debt_id}/disputes/{opened.json()['dispute_id']}/resolution",
        json={"outcome": "rejected", "note": "no payment on record"},
    )
    assert resolved.status_code == 200, resolved.text
    await collections.run()
    assert await _steps(collections, debt_id) == ["reminder"]


async def test_a_notice_without_a_usable_contact_point_waits_for_new_contact_details(
    collections: RunningCollections,
) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears(email=False)  # the reminder goes by e-mail
    await collections.run()
    assert await _steps(collections, debt_id) == []
    assert (await _postponed(collections, debt_id))["guard"] == "contact_unusable"
    tasks = await collections.api.get("/v1/verification-tasks", params={"customer_id": issued.customer_id})
    assert [(t["channel"], t["status"]) for t in tasks.json()["items"]] == [("email", "open")]
    await collections.run()  # still waiting: no second task
    assert (await collections.history(debt_id)).count("ContactVerificationRequested") == 1

    details = contact_details(email=True, address=True, time_zone="America/Chicago")
    await collections.from_registration(registration.ContactDetailsChanged(
        customer_id=issued.customer_id, contact=details, changed_at=collections.clock.now(),
    ), issued.customer_id)

    async def resolved() -> bool:
        answer = await collections.api.get(
            "/v1/verification-tasks", params={"customer_id": issued.customer_id, "status": "resolved"},
        )
        return len(answer.json()["items"]) == 1

    await eventually(resolved, timeout=20, message="new contact details closed the skip-trace task")
    await collections.run()
    debt = await collections.debt(debt_id)
    assert [n["step"] for n in debt["notices"]] == ["reminder"]
    assert debt["notices"][0]["recipient"] == details.emails[0].address


async def test_a_bounced_contact_point_asks_for_a_new_one(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears()
    contact = json.loads(await collections.pool.fetchval(
        "SELECT contact FROM customers WHERE customer_id = $1", issued.customer_id,
    ))
    email_id = contact["emails"][0]["id"]
    await collections.from_registration(registration.ContactPointBounced(
        customer_id=issued.customer_id, contact_point_id=email_id, channel=registration.Channel.EMAIL,
        reason="550 mailbox unavailable", bounced_at=NOW,
    ), issued.customer_id)

    async def bounced() -> bool:
        return email_id in await collections.pool.fetchval(
            "SELECT bounced FROM customers WHERE customer_id = $1", issued.customer_id,
        )

    await eventually(bounced, timeout=20, message="collections saw the bounce")
    await collections.run()
    assert await _steps(collections, debt_id) == []
    tasks = (await collections.api.get(
        "/v1/verification-tasks", params={"customer_id": issued.customer_id},
    )).json()["items"]
    assert [(t["channel"], t["contact_point_id"]) for t in tasks] == [("email", email_id)]

    await collections.from_registration(registration.ContactPointVerified(
        customer_id=issued.customer_id, contact_point_id=email_id, channel=registration.Channel.EMAIL,
        verified_at=NOW,
    ), issued.customer_id)

    async def usable_again() -> bool:
        return email_id not in await collections.pool.fetchval(
            "SELECT bounced FROM customers WHERE customer_id = $1", issued.customer_id,
        )

    await eventually(usable_again, timeout=20, message="the verified contact point is usable again")
    await collections.run()
    assert await _steps(collections, debt_id) == ["reminder"]
