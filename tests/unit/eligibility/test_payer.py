"""The payer directory entry, without I/O."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from services.eligibility.domain.events import (
    BillingContact,
    PayerChanged,
    PayerKind,
    PayerProfile,
    PayerRegistered,
    PayerRetired,
    RulesConnection,
    X12Connection,
)
from services.eligibility.domain.payer import Payer
from shared.rules import RuleViolated

NOW = datetime(2026, 11, 27, tzinfo=timezone.utc)
PROFILE = PayerProfile(
    name="Acme Health", kind=PayerKind.INSURER,
    connection=X12Connection(endpoint="https://clearinghouse.example/x12/270", payer_identifier="60054",
                             receiver_id="CLEARINGHOUSE"),
    code_system="HCPCS", billing_contact=BillingContact(name="Claims", email="claims@acme.example"),
)


def registered() -> Payer:
    return Payer.fold("acme-health", Payer.register("acme-health", PROFILE, now=NOW))


def test_registering_records_the_profile() -> None:
    payer = registered()
    assert payer.profile == PROFILE and payer.version == 1 and not payer.retired


@pytest.mark.parametrize("payer_id", ["A", "Acme", "acme health", "-acme", "x" * 64])
def test_a_payer_id_is_a_short_lowercase_slug(payer_id: str) -> None:
    with pytest.raises(RuleViolated) as refused:
        Payer.register(payer_id, PROFILE, now=NOW)
    assert refused.value.field == "payer_id"


def test_a_change_that_changes_nothing_records_nothing() -> None:
    payer = registered()
    assert payer.change(PROFILE, now=NOW) == []
    program = PROFILE.model_copy(update={"connection": RulesConnection(program_id="sliding-fee-standard"),
                                         "kind": PayerKind.GOVERNMENT_PROGRAM})
    [event] = payer.change(program, now=NOW)
    assert isinstance(event, PayerChanged)


def test_a_retired_payer_is_not_changed_and_retires_once() -> None:
    payer = registered()
    [event] = payer.retire("merged", now=NOW)
    assert isinstance(event, PayerRetired)
    payer.apply(event)
    assert payer.retire("again", now=NOW) == []
    with pytest.raises(RuleViolated):
        payer.change(PROFILE, now=NOW)


def test_a_connection_is_either_x12_or_rules() -> None:
    data = PROFILE.model_dump(mode="json")
    data["connection"] = {"method": "fax"}
    with pytest.raises(ValidationError):
        PayerProfile.model_validate(data)
    assert isinstance(PayerRegistered(payer_id="p1", profile=PROFILE, registered_at=NOW).profile.connection,
                      X12Connection)
