"""The shared X12 codec: separators from the ISA header, segments, envelope checks, writing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared.x12 import (
    STANDARD_SEPARATORS,
    Composite,
    Repeated,
    Segment,
    Separators,
    X12SyntaxError,
    format_decimal,
    parse_date,
    parse_date_range,
    parse_decimal,
    parse_interchange,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261127*0930*^*00501*000000042*0*T*:~"
CREATED_AT = datetime(2026, 11, 27, 9, 30)


def interchange(
    *body: str,
    isa: str = ISA,
    se_count: int | None = None,
    se_number: str = "0001",
    ge: str = "GE*1*42",
    iea: str = "IEA*1*000000042",
) -> str:
    """A 270-shaped interchange around ``body`` with correct counts unless told otherwise."""
    count = len(body) + 2 if se_count is None else se_count
    return (
        isa
        + "GS*HS*SENDER*RECEIVER*20261127*0930*42*X*005010X279A1~ST*270*0001*005010X279A1~"
        + "".join(f"{segment}~" for segment in body)
        + f"SE*{count}*{se_number}~{ge}~{iea}~"
    )


BODY = (
    "BHT*0022*13*REF1*20261127*0930",
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH*****PI*60054",
    "EQ*30^98",
)


def test_the_separators_are_read_from_the_fixed_positions_of_the_isa_header() -> None:
    header = ISA.replace("*", "|").replace("^", "!").replace(":", ">").replace("~", "\n")

    assert Separators.from_isa(header) == Separators(
        element="|", component=">", repetition="!", segment="\n"
    )
    assert Separators.from_isa(ISA) == STANDARD_SEPARATORS


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        ("GS*HS*SENDER", "starts with ISA"),
        (ISA[:90], "only 90"),
        (
            ISA.replace("SENDER         *ZZ*RECEIVER       ", "SENDER        *ZZ*RECEIVER        "),
            "fixed-width",
        ),
        (ISA.replace("*^*", "*U*"), "ISA11 'U' is not a repetition separator"),
        (ISA.replace("*:~", "*^~"), "four different characters"),
    ],
)
def test_a_header_that_is_not_a_5010_isa_is_refused(header: str, complaint: str) -> None:
    with pytest.raises(X12SyntaxError, match=complaint) as refused:
        parse_interchange(header)
    assert refused.value.position == 1


def test_an_interchange_reads_into_groups_of_transaction_sets_of_segments() -> None:
    parsed = parse_interchange(interchange(*BODY))

    assert (parsed.sender_id, parsed.receiver_id, parsed.control_number, parsed.production) == (
        "SENDER",
        "RECEIVER",
        "000000042",
        False,
    )
    [group] = parsed.groups
    assert (group.functional_id, group.control_number, group.version) == (
        "HS",
        "42",
        "005010X279A1",
    )
    [transaction_set] = group.transaction_sets
    assert (
        transaction_set.id,
        transaction_set.control_number,
        transaction_set.implementation_reference,
    ) == ("270", "0001", "005010X279A1")
    assert [s.id for s in transaction_set.segments] == ["ST", "BHT", "HL", "NM1", "EQ", "SE"]
    assert [s.position for s in transaction_set.segments] == [3, 4, 5, 6, 7, 8]


def test_elements_count_from_one_and_absent_ones_are_empty() -> None:
    [transaction_set] = parse_interchange(interchange(*BODY)).transaction_sets
    name, service_types = transaction_set.body[2], transaction_set.body[3]

    assert (
        name.element(1) == "PR" and name.element(3) == "ACME HEALTH" and name.element(9) == "60054"
    )
    assert name.element(4) == "" and name.element(12) == ""
    assert service_types.repetitions(1) == ["30", "98"]
    assert service_types.repetitions(2) == [] and name.components(5) == []
    with pytest.raises(IndexError):
        name.element(0)


def test_composite_elements_split_into_components() -> None:
    segment = Segment.of(
        "EB", "B", "IND", "", "", "", "27", "25", "", "", "", "", "Y", Composite("HC", "99213")
    )

    assert segment.element(13) == "HC:99213"
    assert segment.components(13) == ["HC", "99213"]


def test_line_breaks_after_terminators_are_ignored() -> None:
    plain = interchange(*BODY)
    unix = plain.replace("~", "~\n")
    windows = "\n  " + plain.replace("~", "~\r\n")

    expected = parse_interchange(plain)
    assert parse_interchange(unix) == expected
    assert parse_interchange(windows) == expected


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (interchange(*BODY, se_count=5), r"SE at segment 8: SE01 says '5' segments .*there are 6"),
        (
            interchange(*BODY, se_number="0002"),
            r"SE at segment 8: SE02 '0002' does not match ST02 '0001'",
        ),
        (
            interchange(*BODY, ge="GE*2*42"),
            r"GE at segment 9: GE01 says '2' transaction sets, there are 1",
        ),
        (interchange(*BODY, ge="GE*1*43"), r"GE at segment 9: GE02 '43' does not match GS06 '42'"),
        (
            interchange(*BODY, iea="IEA*2*000000042"),
            r"IEA at segment 10: IEA01 says '2' functional groups",
        ),
        (
            interchange(*BODY, iea="IEA*1*000000043"),
            r"IEA at segment 10: IEA02 '000000043' does not match ISA13",
        ),
        (interchange(*BODY).rsplit("SE*", 1)[0], r"ends after EQ at segment 7; expected SE"),
        (
            interchange(*BODY).replace("SE*6*0001~", ""),
            r"GE at segment 8: transaction set '0001' .* has no SE",
        ),
        (interchange(*BODY) + "NM1*IL~", r"NM1 at segment 11: nothing may follow IEA"),
        (interchange(*BODY, "nm1*IL"), r"segment 8: 'nm1' is not a segment id"),
        (ISA + "ST*270*0001~SE*2*0001~IEA*0*000000042~", r"ST at segment 2: expected GS or IEA"),
    ],
)
def test_a_broken_envelope_is_refused_naming_the_segment_and_where(
    document: str, complaint: str
) -> None:
    with pytest.raises(X12SyntaxError, match=complaint):
        parse_interchange(document)


def test_an_interchange_acknowledgment_sits_between_isa_and_the_groups() -> None:
    parsed = parse_interchange(ISA + "TA1*000000017*261127*0930*R*006~IEA*0*000000042~")

    assert parsed.groups == ()
    assert [(ta1.element(4), ta1.element(5)) for ta1 in parsed.acknowledgments] == [("R", "006")]


def test_segments_render_with_terminators_and_without_trailing_empty_elements() -> None:
    segments = [
        Segment.of("NM1", "IL", "1", "LOVELACE", "ADA", "", "", "", "MI", "W123456789", "", ""),
        Segment.of("EB", "1", "IND", Repeated("30", "98")),
        Segment.of("SV1", Composite("HC", "99213", "", ""), "125"),
    ]

    assert render(segments, STANDARD_SEPARATORS) == (
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789~EB*1*IND*30^98~SV1*HC:99213*125~"
    )
    assert (
        render(segments[:1], STANDARD_SEPARATORS, line_breaks=True)
        == "NM1*IL*1*LOVELACE*ADA****MI*W123456789~\n"
    )


def test_segments_read_in_one_set_of_separators_render_in_another() -> None:
    parsed = parse_interchange(interchange(*BODY, "EB*B*IND****27*25*****Y*HC:99213"))
    [group] = parsed.groups
    others = Separators(element="|", component=">", repetition="!", segment="\n")

    rewritten = render(
        [
            parsed.header,
            group.header,
            *parsed.transaction_sets[0].segments,
            group.trailer,
            parsed.trailer,
        ],
        others,
    )

    assert rewritten.splitlines()[0] == ISA[:-1].replace("*", "|").replace("^", "!")[:-1] + ">"
    assert "EQ|30!98\n" in rewritten and "EB|B|IND||||27|25|||||Y|HC>99213\n" in rewritten
    again = parse_interchange(rewritten)
    assert again.separators == others
    assert again.transaction_sets[0].body[-1].components(13) == ["HC", "99213"]


@pytest.mark.parametrize("data", ["A*B", "A~B", "A:B", "A^B", "LINE\nBREAK"])
def test_data_containing_a_separator_is_refused_rather_than_corrupting_the_document(
    data: str,
) -> None:
    with pytest.raises(ValueError, match="NM103"):
        Segment.of("NM1", "IL", "1", data)


def test_rendering_refuses_data_that_clashes_with_the_separators_written_in() -> None:
    read_with_pipes = Segment("NM1", ("IL", "1", "O*BRIEN"), Separators(element="|", component=">"))

    with pytest.raises(ValueError, match=r"NM103 'O\*BRIEN' contains '\*'"):
        render([read_with_pipes], STANDARD_SEPARATORS)


def test_the_envelope_counts_and_numbers_what_it_wraps() -> None:
    body = [Segment.of("BHT", "0022", "13", "REF1", "20261127", "0930"), Segment.of("EQ", "30")]
    transaction_set = wrap_transaction_set(
        "270", "0001", body, implementation_reference="005010X279A1"
    )
    group = wrap_functional_group(
        [transaction_set],
        functional_id="HS",
        sender_id="SENDER",
        receiver_id="RECEIVER",
        control_number=42,
        created_at=CREATED_AT,
        version="005010X279A1",
    )
    segments = wrap_interchange(
        [group],
        sender_id="SENDER",
        receiver_id="RECEIVER",
        control_number=42,
        created_at=CREATED_AT,
        production=False,
    )

    document = render(segments, STANDARD_SEPARATORS)

    assert document == interchange("BHT*0022*13*REF1*20261127*0930", "EQ*30")
    assert len(document.split("~")[0]) + 1 == 106
    assert parse_interchange(document).transaction_sets[0].body == tuple(body)


def test_the_isa_header_is_padded_to_its_fixed_widths_and_refuses_what_does_not_fit() -> None:
    [isa, iea] = wrap_interchange(
        [],
        sender_id="ME",
        receiver_id="YOU",
        control_number=7,
        created_at=datetime(2027, 1, 4, 23, 5),
        production=True,
        sender_qualifier="01",
        acknowledgment_requested=True,
    )

    assert render([isa], STANDARD_SEPARATORS) == (
        "ISA*00*          *00*          *01*ME             *ZZ*YOU            *270104*2305*^*00501*000000007*1*P*:~"
    )
    assert iea == Segment.of("IEA", "0", "000000007")
    with pytest.raises(
        ValueError, match="ISA06 'A-SENDER-ID-LONGER-THAN-15' is longer than its 15"
    ):
        wrap_interchange(
            [],
            sender_id="A-SENDER-ID-LONGER-THAN-15",
            receiver_id="YOU",
            control_number=7,
            created_at=CREATED_AT,
            production=False,
        )
    with pytest.raises(ValueError, match="ISA13 is a control number from 1 to 999999999"):
        wrap_interchange(
            [],
            sender_id="ME",
            receiver_id="YOU",
            control_number=1_000_000_000,
            created_at=CREATED_AT,
            production=False,
        )
    with pytest.raises(ValueError, match="ST02 is 4 to 9 digits"):
        wrap_transaction_set("270", "1", [], implementation_reference="005010X279A1")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1500", Decimal("1500")),
        ("25.5", Decimal("25.5")),
        (".2", Decimal("0.2")),
        ("-3.10", Decimal("-3.1")),
    ],
)
def test_decimal_values_read_exactly(text: str, value: Decimal) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "1,500", "1e3", "12.3.4", "$25", "NaN", " 25"])
def test_anything_but_an_x12_decimal_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an X12 decimal"):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1500.00"), "1500"),
        (Decimal("0.20"), "0.2"),
        (Decimal("1.5E+3"), "1500"),
        (Decimal("-0.0"), "0"),
        (Decimal("12.345"), "12.345"),
    ],
)
def test_decimal_values_are_written_without_exponent_or_insignificant_zeros(
    value: Decimal, text: str
) -> None:
    assert format_decimal(value) == text


def test_dates_and_date_ranges_read_from_ccyymmdd() -> None:
    assert parse_date("20261127") == date(2026, 11, 27)
    assert parse_date_range("20260101-20261231") == (date(2026, 1, 1), date(2026, 12, 31))
    for broken in ("2026-11-27", "20261327", "261127"):
        with pytest.raises(ValueError):
            parse_date(broken)
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_date_range("20261231-20260101")
