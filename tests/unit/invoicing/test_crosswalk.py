"""Payer crosswalks: which code a payer is billed under on a service date, and which new versions
may be published."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.invoicing.domain.codes import CPT, HCPCS, CodeKey, CodeRef
from services.invoicing.domain.crosswalk import (
    BilledCode,
    CrosswalkEntry,
    CrosswalkVersion,
    MissingMapping,
    check_publishable,
    resolve,
    version_in_effect,
)
from shared.rules import RuleViolated

PAYER = "acme-health"
OFFICE_VISIT = CodeRef(system=CPT, code="99213")
FLU_SHOT_ADMIN = CodeRef(system=HCPCS, code="G0008")


def maps(
    internal: str, payer_code: str, *modifiers: str, payer_system: str = HCPCS
) -> CrosswalkEntry:
    system, code = internal.split(" ")
    return CrosswalkEntry(
        internal=CodeKey(system=system, code=code), payer_system=payer_system,
        payer_code=payer_code, modifiers=list(modifiers),
    )


V1 = CrosswalkVersion(
    payer_id=PAYER, version=1, effective_from=date(2026, 1, 1), effective_to=None,
    entries=[maps("CPT 99213", "G0463"), maps("CPT 99214", "G0463")],
)
# From April the payer wants its program modifier on office visits.
V2 = CrosswalkVersion(
    payer_id=PAYER, version=2, effective_from=date(2026, 4, 1), effective_to=None,
    entries=[maps("CPT 99213", "G0463", "U1")],
)
VERSIONS = [V1, V2]
# A county aid program paying for services under its own fee codes.
AID = "tariff:county-aid"
AID_V1 = CrosswalkVersion(
    payer_id=PAYER, version=1, effective_from=date(2026, 1, 1), effective_to=None,
    entries=[maps("CPT 99213", "AID-OV", payer_system=AID)],
)


# -- resolving ------------------------------------------------------------------------------------


def test_the_entry_of_the_version_in_effect_maps_the_code() -> None:
    billed = resolve(OFFICE_VISIT, HCPCS, VERSIONS, date(2026, 3, 2))
    assert billed == BilledCode(
        system=HCPCS, code="G0463", modifiers=[], charged=OFFICE_VISIT, crosswalk_version=1
    )


def test_a_later_version_supersedes_the_earlier_from_its_first_day() -> None:
    assert resolve(OFFICE_VISIT, HCPCS, VERSIONS, date(2026, 3, 31)).crosswalk_version == 1
    billed = resolve(OFFICE_VISIT, HCPCS, VERSIONS, date(2026, 4, 1))
    assert isinstance(billed, BilledCode)
    assert (billed.crosswalk_version, billed.ref.label) == (2, "HCPCS G0463-U1")


def test_a_charge_is_billed_under_the_mapping_of_its_service_date_in_any_order_given() -> None:
    assert resolve(OFFICE_VISIT, HCPCS, [V2, V1], date(2026, 2, 1)).crosswalk_version == 1


def test_the_highest_version_decides_even_when_it_started_earlier_than_another() -> None:
    correction = V2.model_copy(update={"version": 3, "effective_from": date(2026, 3, 15),
                                       "entries": [maps("CPT 99213", "T1015")]})
    billed = resolve(OFFICE_VISIT, HCPCS, [V1, V2, correction], date(2026, 5, 1))
    assert isinstance(billed, BilledCode)
    assert (billed.code, billed.crosswalk_version) == ("T1015", 3)


def test_the_payers_modifiers_go_before_the_charges_which_are_kept() -> None:
    charged = CodeRef(system=CPT, code="99213", modifiers=["25", "U1"])
    billed = resolve(charged, HCPCS, VERSIONS, date(2026, 4, 2))
    assert isinstance(billed, BilledCode)
    assert billed.modifiers == ["U1", "25"]
    assert billed.charged == charged


def test_a_code_already_in_the_payers_system_goes_as_charged_when_nothing_maps_it() -> None:
    charged = CodeRef(system=HCPCS, code="G0008", modifiers=["33"])
    billed = resolve(charged, HCPCS, VERSIONS, date(2026, 3, 2))
    assert billed == BilledCode(
        system=HCPCS, code="G0008", modifiers=["33"], charged=charged, crosswalk_version=None
    )


def test_a_code_in_the_payers_system_goes_as_charged_even_with_no_crosswalk_at_all() -> None:
    billed = resolve(FLU_SHOT_ADMIN, HCPCS, [], date(2026, 3, 2))
    assert isinstance(billed, BilledCode) and billed.ref == FLU_SHOT_ADMIN


def test_an_entry_maps_a_code_of_the_payers_own_system_too() -> None:
    version = V1.model_copy(update={"entries": [maps("HCPCS G0008", "G0009")]})
    billed = resolve(FLU_SHOT_ADMIN, HCPCS, [version], date(2026, 3, 2))
    assert isinstance(billed, BilledCode) and billed.code == "G0009"


def test_a_code_of_another_system_with_no_entry_is_a_missing_mapping() -> None:
    missing = resolve(CodeRef(system=CPT, code="99215"), AID, [AID_V1], date(2026, 3, 2))
    assert isinstance(missing, MissingMapping)
    assert missing.reason == (
        "no crosswalk entry maps CPT 99215 to acme-health's tariff:county-aid codes for "
        "2026-03-02 (crosswalk version 1)"
    )
    assert (missing.payer_id, missing.crosswalk_version) == (PAYER, 1)


def test_cpt_is_billed_as_charged_to_a_payer_billing_in_hcpcs_when_no_entry_maps_it() -> None:
    billed = resolve(CodeRef(system=CPT, code="99215", modifiers=["25"]), HCPCS, VERSIONS, date(2026, 3, 2))
    assert billed == BilledCode(
        system=CPT, code="99215", modifiers=["25"], charged=CodeRef(system=CPT, code="99215", modifiers=["25"]),
    )


def test_a_code_the_superseded_version_mapped_goes_as_charged_once_the_new_one_is_in_effect() -> None:
    longer_visit = CodeRef(system=CPT, code="99214")
    mapped = resolve(longer_visit, HCPCS, VERSIONS, date(2026, 3, 31))
    assert isinstance(mapped, BilledCode) and mapped.code == "G0463"
    as_charged = resolve(longer_visit, HCPCS, VERSIONS, date(2026, 4, 1))
    assert isinstance(as_charged, BilledCode) and as_charged.code == "99214"
    assert as_charged.crosswalk_version is None


def test_a_service_date_outside_every_version_is_a_missing_mapping_saying_so() -> None:
    ended = AID_V1.model_copy(update={"effective_to": date(2026, 6, 30)})
    for day in (date(2025, 12, 31), date(2026, 7, 1)):
        missing = resolve(OFFICE_VISIT, AID, [ended], day)
        assert isinstance(missing, MissingMapping)
        assert missing.reason == (
            f"CPT 99213 needs acme-health's crosswalk to tariff:county-aid, and no version of it "
            f"is in effect on {day}"
        )
        assert missing.crosswalk_version is None


def test_without_any_crosswalk_a_code_of_another_system_is_a_missing_mapping() -> None:
    missing = resolve(OFFICE_VISIT, AID, [], date(2026, 3, 2))
    assert isinstance(missing, MissingMapping) and missing.payer_id is None
    assert "no version of it is in effect on 2026-03-02" in missing.reason


def test_an_entry_to_a_system_the_payer_no_longer_bills_in_is_a_missing_mapping() -> None:
    missing = resolve(OFFICE_VISIT, "tariff:acme-fees", VERSIONS, date(2026, 3, 2))
    assert isinstance(missing, MissingMapping)
    assert missing.reason == (
        "crosswalk version 1 of acme-health maps CPT 99213 to HCPCS G0463, but acme-health bills "
        "in tariff:acme-fees"
    )


def test_more_modifiers_than_a_claim_line_holds_is_a_missing_mapping() -> None:
    charged = CodeRef(system=CPT, code="99213", modifiers=["25", "59", "LT", "RT"])
    missing = resolve(charged, HCPCS, VERSIONS, date(2026, 4, 2))
    assert isinstance(missing, MissingMapping)
    assert missing.reason == (
        "CPT 99213-25-59-LT-RT billed as HCPCS G0463 needs modifiers U1, 25, 59, LT, RT: more "
        "than the 4 a claim line holds"
    )


def test_versions_of_several_payers_are_a_mistake_of_the_caller() -> None:
    other = V1.model_copy(update={"payer_id": "other-payer"})
    with pytest.raises(ValueError, match="several payers"):
        resolve(OFFICE_VISIT, HCPCS, [V1, other], date(2026, 3, 2))


def test_the_version_in_effect_is_the_highest_covering_the_day() -> None:
    assert version_in_effect(VERSIONS, date(2025, 12, 31)) is None
    assert version_in_effect(VERSIONS, date(2026, 1, 1)) == V1
    assert version_in_effect(VERSIONS, date(2026, 4, 1)) == V2


# -- entries --------------------------------------------------------------------------------------


def test_an_entry_reads_the_flat_form_events_carry() -> None:
    entry = CrosswalkEntry.model_validate(
        {"system": "CPT", "code": "99213", "payer_system": "HCPCS", "payer_code": "g0463",
         "modifiers": ["u1"]}
    )
    assert entry == maps("CPT 99213", "G0463", "U1")


def test_diagnoses_are_not_crosswalked() -> None:
    with pytest.raises(ValidationError, match="a crosswalk maps services"):
        maps("ICD-10-CM J06.9", "G0463")
    with pytest.raises(ValidationError, match="a crosswalk maps services"):
        maps("CPT 99213", "J06.9", payer_system="ICD-10-CM")


def test_an_entry_refuses_a_payer_code_not_of_the_payers_system() -> None:
    with pytest.raises(ValidationError, match="'99213' is not in the form of HCPCS codes"):
        maps("CPT 99213", "99213")


# -- publishing -----------------------------------------------------------------------------------


def test_the_first_version_and_each_next_one_may_be_published() -> None:
    check_publishable(V1, [], HCPCS)
    check_publishable(V2, [V1], HCPCS)
    same_day = V2.model_copy(update={"version": 3})  # a correction starting the same day
    check_publishable(same_day, [V1, V2], HCPCS)


@pytest.mark.parametrize("version", [1, 3, 7])
def test_versions_are_numbered_in_order(version: int) -> None:
    with pytest.raises(RuleViolated) as refused:
        check_publishable(V2.model_copy(update={"version": version}), [V1], HCPCS)
    assert refused.value.field == "version"
    assert refused.value.message == (
        f"the next version of acme-health's crosswalk is 2, not {version}"
    )


def test_a_version_may_not_end_before_it_starts() -> None:
    backwards = V2.model_copy(update={"effective_to": date(2026, 3, 31)})
    with pytest.raises(RuleViolated) as refused:
        check_publishable(backwards, [V1], HCPCS)
    assert refused.value.field == "effective_to"
    assert refused.value.message == "effective_to 2026-03-31 is before effective_from 2026-04-01"


def test_a_version_may_not_take_effect_before_the_one_before_it() -> None:
    earlier = V2.model_copy(update={"effective_from": date(2025, 12, 1)})
    with pytest.raises(RuleViolated) as refused:
        check_publishable(earlier, [V1], HCPCS)
    assert refused.value.field == "effective_from"
    assert "before version 1 (from 2026-01-01)" in refused.value.message


def test_a_version_may_not_map_a_code_twice() -> None:
    twice = V2.model_copy(update={"entries": [
        maps("CPT 99213", "G0463"), maps("CPT 99214", "G0463"), maps("CPT 99213", "T1015"),
    ]})
    with pytest.raises(RuleViolated) as refused:
        check_publishable(twice, [V1], HCPCS)
    assert refused.value.field == "entries[2].internal"
    assert refused.value.message == "CPT 99213 is already mapped by entries[0]"


def test_every_entry_maps_to_the_payers_code_system() -> None:
    tariff = maps("CPT 99213", "VISIT", payer_system="tariff:acme-fees")
    with pytest.raises(RuleViolated) as refused:
        check_publishable(V2.model_copy(update={"entries": [tariff]}), [V1], HCPCS)
    assert refused.value.field == "entries[0].payer_system"
    assert refused.value.message == "acme-health bills in HCPCS, not tariff:acme-fees"
