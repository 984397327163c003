"""The code catalogue's values and code files: code formats, validity on a day, the CSV format and
the sample files shipped with the service."""

from __future__ import annotations

import codecs
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.invoicing.adapters.code_files import (
    CodeFileInvalid,
    parse_code_file,
    read_code_file,
    shipped_code_files,
    system_of_file,
)
from services.invoicing.domain.codes import (
    CPT,
    HCPCS,
    ICD_10_CM,
    CatalogueCode,
    CodeKind,
    CodeRef,
    CodeStatus,
    CodeSystem,
    MalformedCode,
    check_code,
    overlapping_entries,
)
from shared.rules import RuleViolated

HEADER = "code,description,valid_from,valid_to\n"


def entry(
    code: str, valid_from: date, valid_to: date | None = None, system: str = ICD_10_CM
) -> CatalogueCode:
    return CatalogueCode(
        system=system, code=code, description=f"{code} described", valid_from=valid_from,
        valid_to=valid_to,
    )


# -- code systems and formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (HCPCS, "G0008"), (HCPCS, "J1100"), (HCPCS, "A0425"), (HCPCS, "V2020"),
        (CPT, "99213"), (CPT, "0001F"), (CPT, "0042T"),
        (ICD_10_CM, "I10"), (ICD_10_CM, "J06.9"), (ICD_10_CM, "E11.65"), (ICD_10_CM, "S52.521A"),
        (ICD_10_CM, "F32.A"), (ICD_10_CM, "C4A.0"),
        ("tariff:city-water", "WATER-M3"), ("tariff:city-water", "A"), ("tariff:gas2", "X" * 20),
    ],
)
def test_each_system_accepts_codes_of_its_shape(system: str, code: str) -> None:
    assert CodeSystem.named(system).canonical(code) == code


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (HCPCS, "W1234"), (HCPCS, "G008"), (HCPCS, "99213"), (HCPCS, "G00080"),
        (CPT, "9921"), (CPT, "0001A"), (CPT, "G0008"), (CPT, "992135"),
        (ICD_10_CM, "J0"), (ICD_10_CM, "1J06"), (ICD_10_CM, "J06."), (ICD_10_CM, "JA6.9"),
        (ICD_10_CM, "S52.521AB"), (ICD_10_CM, "J06-9"),
        ("tariff:city-water", "-WATER"), ("tariff:city-water", "WATER_M3"),
        ("tariff:city-water", "X" * 21), ("tariff:city-water", ""),
    ],
)
def test_each_system_refuses_codes_of_another_shape(system: str, code: str) -> None:
    with pytest.raises(MalformedCode, match=f"is not in the form of {system} codes"):
        CodeSystem.named(system).canonical(code)
    assert not CodeSystem.named(system).is_well_formed(code)


def test_codes_are_kept_upper_case_and_icd_10_cm_codes_with_their_dot() -> None:
    assert CodeSystem.named(HCPCS).canonical(" g0008 ") == "G0008"
    assert CodeSystem.named(ICD_10_CM).canonical("j069") == "J06.9"
    assert CodeSystem.named(ICD_10_CM).canonical("S52521A") == "S52.521A"
    assert CodeSystem.named(ICD_10_CM).canonical("i10") == "I10"
    assert CodeSystem.named("tariff:city-water").canonical("water-m3") == "WATER-M3"


def test_diagnoses_are_icd_10_cm_and_everything_else_is_a_service() -> None:
    assert CodeSystem.named(ICD_10_CM).kind is CodeKind.DIAGNOSIS
    for system in (HCPCS, CPT, "tariff:city-water"):
        assert CodeSystem.named(system).kind is CodeKind.SERVICE
    assert CodeSystem.named(CPT).licensed and not CodeSystem.named(HCPCS).licensed
    assert CodeSystem.named("tariff:city-water").is_tariff


@pytest.mark.parametrize(
    "name", ["hcpcs", "ICD-10", "ICD-9-CM", "tariff:", "tariff:City-Water", "tariff:a b", "water"]
)
def test_a_name_that_is_not_a_code_system_is_refused_naming_those_there_are(name: str) -> None:
    with pytest.raises(MalformedCode, match="expected HCPCS, CPT, ICD-10-CM or tariff:<name>"):
        CodeSystem.named(name)


# -- what a charge names --------------------------------------------------------------------------


def test_a_code_ref_is_canonical_so_spellings_of_one_code_are_equal() -> None:
    assert CodeRef(system=ICD_10_CM, code="j069") == CodeRef(system=ICD_10_CM, code="J06.9")
    assert CodeRef(system=CPT, code="99213", modifiers=["25", "lt"]).modifiers == ["25", "LT"]
    assert CodeRef(system=CPT, code="99213", modifiers=["25", "LT"]).label == "CPT 99213-25-LT"
    assert CodeRef(system=HCPCS, code="G0008").key.label == "HCPCS G0008"


@pytest.mark.parametrize(
    ("modifiers", "problem"),
    [
        (["2"], "'2' is not a modifier"),
        (["25X"], "'25X' is not a modifier"),
        (["2-"], "'2-' is not a modifier"),
        (["25", "59", "LT", "RT", "GA"], "at most 4 modifiers, not 5"),
        (["25", "25"], "name one twice"),
    ],
)
def test_modifiers_are_up_to_four_pairs_of_letters_or_digits(
    modifiers: list[str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        CodeRef(system=CPT, code="99213", modifiers=modifiers)


def test_a_diagnosis_takes_no_modifiers() -> None:
    with pytest.raises(ValidationError, match="ICD-10-CM codes take no modifiers"):
        CodeRef(system=ICD_10_CM, code="J06.9", modifiers=["25"])


def test_a_code_ref_refuses_a_code_of_another_system() -> None:
    with pytest.raises(ValidationError, match=r"'J06\.9' is not in the form of HCPCS codes"):
        CodeRef(system=HCPCS, code="J06.9")


# -- catalogue entries and checks -----------------------------------------------------------------


def test_an_entry_is_valid_from_its_first_to_its_last_day_both_included() -> None:
    r05 = entry("R05", date(2015, 10, 1), date(2021, 9, 30))
    assert not r05.valid_on(date(2015, 9, 30))
    assert r05.valid_on(date(2015, 10, 1))
    assert r05.valid_on(date(2021, 9, 30))
    assert not r05.valid_on(date(2021, 10, 1))
    assert entry("R05.9", date(2021, 10, 1)).valid_on(date(2999, 12, 31))


def test_an_entry_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="valid_to 2020-01-01 is before valid_from 2021"):
        entry("R05", date(2021, 1, 1), date(2020, 1, 1))


CATALOGUE = [
    entry("J06.9", date(2015, 10, 1)),
    entry("R05", date(2015, 10, 1), date(2021, 9, 30)),
    entry("R05.1", date(2021, 10, 1)),
    # retired, then reinstated with new wording
    entry("U07.1", date(2020, 2, 20), date(2020, 3, 31)),
    entry("U07.1", date(2020, 4, 1)),
    entry("Z99.9", date(2030, 1, 1), date(2030, 12, 31)),
    entry("Z99.9", date(2032, 1, 1)),
]


def test_a_code_in_effect_on_the_day_is_valid() -> None:
    checked = check_code(ICD_10_CM, "J06.9", date(2026, 3, 2), CATALOGUE)
    assert checked.status is CodeStatus.VALID and checked.is_valid
    assert checked.message == "ICD-10-CM J06.9 is valid on 2026-03-02"
    assert checked.entry == CATALOGUE[0]
    checked.require_valid("diagnoses[0].code")  # does not raise


def test_a_code_missing_from_the_catalogue_is_unknown() -> None:
    checked = check_code(HCPCS, "G9999", date(2026, 3, 2), CATALOGUE)
    assert checked.status is CodeStatus.UNKNOWN
    assert checked.message == "HCPCS G9999 is not in the catalogue"
    assert checked.entry is None


def test_a_code_whose_last_period_ended_before_the_day_has_expired() -> None:
    checked = check_code(ICD_10_CM, "r05", date(2022, 1, 10), CATALOGUE)
    assert checked.status is CodeStatus.EXPIRED
    assert checked.message == "ICD-10-CM R05 expired on 2021-09-30"
    assert checked.entry == CATALOGUE[1]


def test_a_code_whose_first_period_starts_after_the_day_is_not_yet_valid() -> None:
    checked = check_code(ICD_10_CM, "R05.1", date(2021, 9, 30), CATALOGUE)
    assert checked.status is CodeStatus.NOT_YET_VALID
    assert checked.message == "ICD-10-CM R05.1 is not valid until 2021-10-01"


def test_a_day_between_two_periods_of_a_code_counts_as_expired() -> None:
    checked = check_code(ICD_10_CM, "Z99.9", date(2031, 6, 1), CATALOGUE)
    assert checked.status is CodeStatus.EXPIRED
    assert checked.message == "ICD-10-CM Z99.9 expired on 2030-12-31"


def test_a_reinstated_code_is_valid_in_its_new_period_with_its_new_entry() -> None:
    checked = check_code(ICD_10_CM, "U07.1", date(2020, 4, 1), CATALOGUE)
    assert checked.is_valid and checked.entry == CATALOGUE[4]


def test_icd_10_cm_codes_match_with_or_without_their_dot() -> None:
    checked = check_code(ICD_10_CM, "J069", date(2026, 3, 2), CATALOGUE)
    assert checked.is_valid and checked.code == "J06.9"


def test_a_malformed_code_or_system_is_named_as_such() -> None:
    checked = check_code(ICD_10_CM, "J06.", date(2026, 3, 2), CATALOGUE)
    assert checked.status is CodeStatus.MALFORMED and checked.code == "J06."
    assert checked.message.startswith("'J06.' is not in the form of ICD-10-CM codes")
    assert check_code("ICD-9", "786.2", date(2026, 3, 2), CATALOGUE).status is CodeStatus.MALFORMED


def test_an_invalid_code_refuses_the_command_naming_the_field() -> None:
    checked = check_code(HCPCS, "G9999", date(2026, 3, 2), CATALOGUE)
    with pytest.raises(RuleViolated) as refused:
        checked.require_valid("procedure.code")
    assert refused.value.field == "procedure.code"
    assert refused.value.message == "HCPCS G9999 is not in the catalogue"


def test_overlapping_periods_of_a_code_are_found_and_adjacent_ones_are_not() -> None:
    codes = [
        entry("R05", date(2015, 10, 1), date(2021, 9, 30)),
        entry("R05", date(2021, 10, 1)),  # adjacent: fine
        entry("J06.9", date(2015, 10, 1)),
        entry("J06.9", date(2020, 1, 1), date(2020, 12, 31)),  # inside the open period above
        entry("I10", date(2015, 10, 1)),
        entry("I10", date(2015, 10, 1)),  # the same start twice
        entry("I10", date(2015, 10, 1), system="tariff:clinic"),  # another system's I10
    ]
    assert overlapping_entries(codes) == [(2, 3), (4, 5)]
    assert overlapping_entries(CATALOGUE) == []


# -- code files -----------------------------------------------------------------------------------


def test_a_code_file_is_read_into_catalogue_entries() -> None:
    content = (
        HEADER
        + "G0008,Administration of influenza virus vaccine,2020-01-01,\n"
        + 'g2012,"Brief communication, virtual check-in",2020-01-01,2024-12-31\n'
    ).encode()
    assert parse_code_file(content, HCPCS, "hcpcs.csv") == [
        CatalogueCode(
            system=HCPCS, code="G0008", description="Administration of influenza virus vaccine",
            valid_from=date(2020, 1, 1),
        ),
        CatalogueCode(
            system=HCPCS, code="G2012", description="Brief communication, virtual check-in",
            valid_from=date(2020, 1, 1), valid_to=date(2024, 12, 31),
        ),
    ]


def test_a_code_file_may_have_a_byte_order_mark_crlf_lines_blank_lines_and_columns_in_any_order(
) -> None:
    content = codecs.BOM_UTF8 + (
        "valid_from,code,valid_to,description\r\n"
        "2026-01-01,water-t1,,\"Metered water, first 15 m³, per m³\"\r\n"
        "\r\n"
        ",,,\r\n"
        "2024-01-01,WATER-M3,2025-12-31,Metered water per m³\r\n"
    ).encode()
    codes = parse_code_file(content, "tariff:city-water", "tariff-city-water.csv")
    assert [(c.code, c.valid_to) for c in codes] == [
        ("WATER-T1", None), ("WATER-M3", date(2025, 12, 31))
    ]
    assert codes[0].description == "Metered water, first 15 m³, per m³"


def test_an_operators_cpt_file_is_read_in_the_same_format() -> None:
    content = (HEADER + "99213,Licensed description,2024-01-01,\n0042T,Licensed,2024-01-01,\n")
    codes = parse_code_file(content.encode(), CPT, "cpt.csv")
    assert [(c.system, c.code) for c in codes] == [(CPT, "99213"), (CPT, "0042T")]


def test_a_malformed_row_is_refused_with_its_line_number() -> None:
    content = HEADER + "G0008,Flu vaccine administration,2020-01-01,\nG9,Bad,2020-01-01,\n"
    with pytest.raises(CodeFileInvalid) as refused:
        parse_code_file(content.encode(), HCPCS, "hcpcs.csv")
    assert refused.value.problems == [
        (
            3,
            (
                "'G9' is not in the form of HCPCS codes: a letter A to V and 4 digits, e.g. "
                "G0008, J1100 (HCPCS Level II)"
            ),
        ),
    ]
    assert str(refused.value).startswith("hcpcs.csv: line 3: 'G9' is not in the form of HCPCS")


def test_every_mistake_of_a_file_is_reported_with_its_line() -> None:
    content = (
        HEADER
        + "J06.9,Acute upper respiratory infection,2015-10-01,\n"  # line 2
        + "R05,Cough,2015-10-01,2021-09-30,extra\n"  # 3
        + 'E11.65,"Type 2 diabetes mellitus\nwith hyperglycemia",2015-13-01,\n'  # 4-5
        + "R51,Headache,2020-10-01,2015-10-01\n"  # 6
        + "I10,,2015-10-01,\n"  # 7
        + "J069,Acute URI again,2020-01-01,\n"  # 8: J06.9 again, inside line 2's period
        + "Z23,Encounter for immunization,10/01/2015,\n"  # 9
    )
    with pytest.raises(CodeFileInvalid) as refused:
        parse_code_file(content.encode(), ICD_10_CM, "icd-10-cm.csv")
    assert [line for line, _ in refused.value.problems] == [3, 4, 6, 7, 8, 9]
    problems = dict(refused.value.problems)
    assert problems[3] == "5 fields; expected 4: code,description,valid_from,valid_to"
    assert problems[4] == "valid_from '2015-13-01' is not a date (YYYY-MM-DD)"
    assert problems[6] == "valid_to 2015-10-01 is before valid_from 2020-10-01"
    assert problems[7].startswith("description: ")
    assert problems[8] == (
        "J06.9 from 2020-01-01 on overlaps its period on line 2 (from 2015-10-01 on)"
    )
    assert problems[9] == "valid_from '10/01/2015' is not a date (YYYY-MM-DD)"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty; expected the header code,description,valid_from,valid_to"),
        (HEADER.encode(), "the file has a header but no codes"),
        (b"code;description;valid_from;valid_to\n", "line 1: header 'code;description;"),
        (b"code,description,valid_from\nJ06.9,URI,2015-10-01\n", "line 1: header "),
        (HEADER.encode() + "J06.9,Infecci\u00f3n,2015-10-01,\n".encode("latin-1"),
         "line 2: byte 0xf3 is not UTF-8"),
    ],
)
def test_a_file_that_is_not_a_code_file_is_refused(content: bytes, problem: str) -> None:
    with pytest.raises(CodeFileInvalid, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_code_file(content, ICD_10_CM, "codes.csv")


def test_a_files_name_tells_its_code_system() -> None:
    assert system_of_file(Path("hcpcs.csv")) == HCPCS
    assert system_of_file(Path("/srv/codes/CPT.csv")) == CPT
    assert system_of_file(Path("icd-10-cm.csv")) == ICD_10_CM
    assert system_of_file(Path("tariff-city-water.csv")) == "tariff:city-water"
    with pytest.raises(ValueError, match=r"cannot tell the code system of codes\.csv"):
        system_of_file(Path("codes.csv"))


def test_read_code_file_reads_the_system_from_the_name_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "tariff-gas.csv"
    path.write_text(HEADER + "GAS-KWH,Gas per kWh,2026-01-01,\n", encoding="utf-8")
    assert read_code_file(path)[0].system == "tariff:gas"
    assert read_code_file(path, "tariff:town-gas")[0].system == "tariff:town-gas"


# -- the shipped sample files ---------------------------------------------------------------------


def test_the_shipped_files_are_hcpcs_icd_10_cm_and_the_water_tariff_and_no_cpt() -> None:
    assert set(shipped_code_files()) == {HCPCS, ICD_10_CM, "tariff:city-water"}


@pytest.mark.parametrize(
    ("system", "least", "most"),
    [(HCPCS, 30, 60), (ICD_10_CM, 40, 80), ("tariff:city-water", 8, 30)],
)
def test_each_shipped_file_loads_in_full(system: str, least: int, most: int) -> None:
    codes = read_code_file(shipped_code_files()[system])
    assert least <= len(codes) <= most
    assert {code.system for code in codes} == {system}
    assert overlapping_entries(codes) == []
    assert all(code.description == code.description.strip() != "" for code in codes)


def test_the_hcpcs_sample_is_level_ii_with_the_flu_vaccine_administration() -> None:
    codes = {code.code: code for code in read_code_file(shipped_code_files()[HCPCS])}
    assert codes["G0008"].description == "Administration of influenza virus vaccine"
    assert {code[0] for code in codes} >= {"A", "E", "G", "J", "Q"}
    assert not any(code.startswith("D") for code in codes)  # dental codes are the ADA's
    # G2012 became CPT 98016 in 2025
    assert check_code(HCPCS, "G2012", date(2025, 1, 2), codes.values()).status is CodeStatus.EXPIRED


def test_the_icd_10_cm_sample_shows_codes_replaced_by_more_specific_ones() -> None:
    codes = read_code_file(shipped_code_files()[ICD_10_CM])
    expired = {code.code for code in codes if code.valid_to is not None}
    assert {"R05", "M54.5", "N18.3", "R51", "E78.4"} <= expired
    assert check_code(ICD_10_CM, "R05", date(2022, 1, 10), codes).message == (
        "ICD-10-CM R05 expired on 2021-09-30"
    )
    assert check_code(ICD_10_CM, "R05.1", date(2022, 1, 10), codes).is_valid
    assert check_code(ICD_10_CM, "J069", date(2026, 3, 2), codes).is_valid


def test_the_water_tariff_changes_from_one_rate_to_two_tiers_in_2026() -> None:
    codes = read_code_file(shipped_code_files()["tariff:city-water"])
    assert check_code("tariff:city-water", "WATER-M3", date(2025, 12, 31), codes).is_valid
    assert check_code("tariff:city-water", "WATER-M3", date(2026, 1, 1), codes).status is (
        CodeStatus.EXPIRED
    )
    assert check_code("tariff:city-water", "WATER-T1", date(2026, 1, 1), codes).is_valid
