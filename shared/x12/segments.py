"""X12 5010 segments and envelopes: read an interchange into its structure, write segments back.

An X12 document is a string of segments. Each segment is an id and elements split by the element
separator; an element may be a composite (components split by the component separator) or
repeated (repetitions split by the repetition separator). The interchange chooses its separators
in the ISA header, which is why ISA alone is fixed width (106 characters): a reader finds the
element separator at character 4, the repetition separator in ISA11, the component separator in
ISA16 and the segment terminator right after it, before it knows anything else.

X12 has no escape character. Data containing a separator cannot be written without changing its
meaning, so ``render`` and ``Segment.of`` refuse it instead of corrupting the document silently.

The envelope nests: ISA (interchange) holds GS (functional groups) holding ST (transaction sets),
each closed by a trailer that counts what it holds and repeats its control number (IEA, GE, SE).
``parse_interchange`` checks those counts and numbers, so a truncated or spliced document is
refused before anyone reads its content; ``wrap_transaction_set``, ``wrap_functional_group`` and
``wrap_interchange`` write them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# The only ISA12 we write: X12 version 5010 (HIPAA's 270/271, 276/277, 835, 837).
INTERCHANGE_VERSION = "00501"

# ISA01..ISA16 widths; the header is 3 + 16 separators + 86 + 1 terminator = 106 characters.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
# X12 "R" (decimal) values: optional minus, digits with an optional decimal point; no exponent.
_DECIMAL = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")


class X12SyntaxError(ValueError):
    """The text is not a well-formed X12 interchange; the message names the segment and where."""

    def __init__(
        self, message: str, *, segment_id: str | None = None, position: int | None = None
    ) -> None:
        if position is None:
            where = ""
        else:
            where = (
                f"{segment_id} at segment {position}: " if segment_id else f"segment {position}: "
            )
        super().__init__(f"{where}{message}")
        self.segment_id = segment_id
        self.position = position


@dataclass(frozen=True)
class Separators:
    """The four delimiters of an interchange, declared in its ISA header."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    def __post_init__(self) -> None:
        chosen = (self.element, self.component, self.repetition, self.segment)
        if any(len(c) != 1 or c.isalnum() or c == " " for c in chosen):
            raise ValueError(
                f"separators must be single non-alphanumeric characters, not {chosen!r}"
            )
        if len(set(chosen)) != 4:
            raise ValueError(f"separators must be four different characters, not {chosen!r}")
        if self.element in "\r\n" or self.component in "\r\n" or self.repetition in "\r\n":
            raise ValueError("only the segment terminator may be a line break")

    @property
    def characters(self) -> str:
        return self.element + self.component + self.repetition + self.segment

    @classmethod
    def from_isa(cls, text: str) -> Separators:
        """The separators the ISA header at the start of ``text`` declares at fixed positions."""
        if not text.startswith("ISA"):
            raise X12SyntaxError(f"an interchange starts with ISA, not {text[:3]!r}", position=1)
        if len(text) < ISA_LENGTH:
            raise X12SyntaxError(
                f"ISA is {ISA_LENGTH} characters, the document has only {len(text)}",
                segment_id="ISA",
                position=1,
            )
        fields = text[: ISA_LENGTH - 1].split(text[3])
        widths = tuple(len(f) for f in fields[1:])
        if len(fields) != 17 or widths != ISA_WIDTHS:
            raise X12SyntaxError(
                f"ISA must be 16 fixed-width elements (widths {ISA_WIDTHS}), found widths {widths}",
                segment_id="ISA",
                position=1,
            )
        if fields[11].isalnum():
            raise X12SyntaxError(
                f"ISA11 {fields[11]!r} is not a repetition separator; only X12 5010 is read",
                segment_id="ISA",
                position=1,
            )
        try:
            return cls(
                element=text[3],
                component=fields[16],
                repetition=fields[11],
                segment=text[ISA_LENGTH - 1],
            )
        except ValueError as error:
            raise X12SyntaxError(str(error), segment_id="ISA", position=1) from None


STANDARD_SEPARATORS = Separators()


@dataclass(frozen=True)
class Composite:
    """A composite element to write, its components in order: ``Composite("HC", "99213")``."""

    components: tuple[str, ...]

    def __init__(self, *components: str) -> None:
        object.__setattr__(self, "components", components)


@dataclass(frozen=True)
class Repeated:
    """A repeated element to write, its repetitions in order: EB03 ``Repeated("30", "98")``."""

    repetitions: tuple[str, ...]

    def __init__(self, *repetitions: str) -> None:
        object.__setattr__(self, "repetitions", repetitions)


ElementValue = str | Composite | Repeated


@dataclass(frozen=True)
class Segment:
    """One segment: its id and its elements as raw text in the interchange's ``separators``.

    A composite element keeps its components joined by ``separators.component`` and a repeated one
    its repetitions joined by ``separators.repetition``; ``components`` and ``repetitions`` split
    them. ``position`` is the segment's 1-based index in the document it was read from, for error
    messages; it takes no part in equality."""

    id: str
    elements: tuple[str, ...] = ()
    separators: Separators = STANDARD_SEPARATORS
    position: int | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls, segment_id: str, *elements: ElementValue, separators: Separators = STANDARD_SEPARATORS
    ) -> Segment:
        """A segment built from data; data holding a separator is refused (X12 has no escaping)."""
        raw = []
        for index, value in enumerate(elements, start=1):
            where = f"{segment_id}{index:02d}"
            if isinstance(value, Composite):
                parts, joiner = value.components, separators.component
            elif isinstance(value, Repeated):
                parts, joiner = value.repetitions, separators.repetition
            else:
                parts, joiner = (value,), ""
            raw.append(joiner.join(_checked(part, separators, where) for part in parts))
        return cls(segment_id, tuple(raw), separators)

    def element(self, index: int) -> str:
        """Element ``index``, from 1 as in the guides (NM109 is ``element(9)``); '' if absent."""
        if index < 1:
            raise IndexError("X12 elements are numbered from 1")
        return self.elements[index - 1] if index <= len(self.elements) else ""

    def components(self, index: int) -> list[str]:
        """The components of composite element ``index``; [] when the element is empty."""
        value = self.element(index)
        return value.split(self.separators.component) if value else []

    def repetitions(self, index: int) -> list[str]:
        """The repetitions of repeated element ``index``; [] when the element is empty."""
        value = self.element(index)
        return value.split(self.separators.repetition) if value else []


def _checked(data: str, separators: Separators, where: str) -> str:
    clash = next((c for c in data if c in separators.characters or c in "\r\n"), None)
    if clash is not None:
        raise ValueError(
            f"{where} {data!r} contains {clash!r}, a separator here; X12 cannot escape it"
        )
    return data


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionSet:
    """ST .. SE: one business document, e.g. a 270 inquiry or a 271 answer."""

    header: Segment
    body: tuple[Segment, ...]
    trailer: Segment

    @property
    def id(self) -> str:
        """ST01, the transaction set identifier, e.g. '271'."""
        return self.header.element(1)

    @property
    def control_number(self) -> str:
        return self.header.element(2)

    @property
    def implementation_reference(self) -> str:
        """ST03, the implementation guide it follows, e.g. '005010X279A1'."""
        return self.header.element(3)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return (self.header, *self.body, self.trailer)


@dataclass(frozen=True)
class FunctionalGroup:
    """GS .. GE: transaction sets of one kind (GS01, e.g. HS for 270s, HB for 271s)."""

    header: Segment
    transaction_sets: tuple[TransactionSet, ...]
    trailer: Segment

    @property
    def functional_id(self) -> str:
        return self.header.element(1)

    @property
    def control_number(self) -> str:
        return self.header.element(6)

    @property
    def version(self) -> str:
        """GS08, e.g. '005010X279A1'."""
        return self.header.element(8)


@dataclass(frozen=True)
class Interchange:
    """ISA .. IEA: what one sender hands one receiver, with the separators it is written in.

    ``acknowledgments`` are TA1 segments: a receiver's verdict on an interchange we sent, which
    sits between ISA and the first GS."""

    header: Segment
    acknowledgments: tuple[Segment, ...]
    groups: tuple[FunctionalGroup, ...]
    trailer: Segment
    separators: Separators

    @property
    def sender_id(self) -> str:
        return self.header.element(6).rstrip()

    @property
    def receiver_id(self) -> str:
        return self.header.element(8).rstrip()

    @property
    def control_number(self) -> str:
        return self.header.element(13)

    @property
    def production(self) -> bool:
        """ISA15: P production, T test."""
        return self.header.element(15) == "P"

    @property
    def transaction_sets(self) -> tuple[TransactionSet, ...]:
        return tuple(ts for group in self.groups for ts in group.transaction_sets)


def _split_segments(text: str) -> tuple[Separators, list[Segment]]:
    """The separators and segments of an interchange, without checking its envelope.

    Line breaks after segment terminators (which many systems add for people reading the file)
    and leading whitespace are ignored."""
    text = text.lstrip("\ufeff \t\r\n")
    separators = Separators.from_isa(text)
    segments = []
    for piece in text.split(separators.segment):
        piece = piece.strip("\r\n")
        if not piece:
            continue
        position = len(segments) + 1
        segment_id, *elements = piece.split(separators.element)
        if not _SEGMENT_ID.match(segment_id):
            raise X12SyntaxError(f"{segment_id[:20]!r} is not a segment id", position=position)
        segments.append(Segment(segment_id, tuple(elements), separators, position))
    return separators, segments


def parse_interchange(text: str) -> Interchange:
    """Read one interchange and check its envelope: every header has its trailer, and every
    trailer's count and control number agree with what it closes. Raises ``X12SyntaxError``."""
    separators, segments = _split_segments(text)
    reader = _Reader(segments)
    header = reader.take("ISA")
    acknowledgments = []
    while reader.peek_id() == "TA1":
        acknowledgments.append(reader.take("TA1"))
    groups = []
    while reader.peek_id() == "GS":
        groups.append(_read_group(reader))
    trailer = reader.take("IEA", expected="GS or IEA")
    _check_count(trailer, len(groups), "functional groups")
    _check_control_number(trailer, 2, header, 13)
    reader.expect_end()
    return Interchange(header, tuple(acknowledgments), tuple(groups), trailer, separators)


def _read_group(reader: _Reader) -> FunctionalGroup:
    header = reader.take("GS")
    transaction_sets = []
    while reader.peek_id() == "ST":
        transaction_sets.append(_read_transaction_set(reader))
    trailer = reader.take("GE", expected="ST or GE")
    _check_count(trailer, len(transaction_sets), "transaction sets")
    _check_control_number(trailer, 2, header, 6)
    return FunctionalGroup(header, tuple(transaction_sets), trailer)


def _read_transaction_set(reader: _Reader) -> TransactionSet:
    header = reader.take("ST")
    body = []
    while reader.peek_id() not in ("SE", None):
        if reader.peek_id() in ("ST", "GE", "IEA", "GS", "ISA"):
            raise X12SyntaxError(
                f"transaction set {header.element(2)!r} (ST, segment {header.position}) has no SE",
                segment_id=reader.peek_id(),
                position=reader.peek_position(),
            )
        body.append(reader.take_any())
    trailer = reader.take("SE", expected="SE")
    _check_count(trailer, len(body) + 2, "segments (ST to SE inclusive)")
    _check_control_number(trailer, 2, header, 2)
    return TransactionSet(header, tuple(body), trailer)


def _check_count(trailer: Segment, actual: int, what: str) -> None:
    stated = trailer.element(1)
    if not stated.isdigit() or int(stated) != actual:
        raise X12SyntaxError(
            f"{trailer.id}01 says {stated!r} {what}, there are {actual}",
            segment_id=trailer.id,
            position=trailer.position,
        )


def _check_control_number(trailer: Segment, index: int, header: Segment, header_index: int) -> None:
    if trailer.element(index) != header.element(header_index):
        raise X12SyntaxError(
            f"{trailer.id}{index:02d} {trailer.element(index)!r} does not match {header.id}"
            f"{header_index:02d} {header.element(header_index)!r} (segment {header.position})",
            segment_id=trailer.id,
            position=trailer.position,
        )


class _Reader:
    """A cursor over the segments, so each envelope level reads what belongs to it."""

    def __init__(self, segments: list[Segment]) -> None:
        self._segments = segments
        self._next = 0

    def peek_id(self) -> str | None:
        return self._segments[self._next].id if self._next < len(self._segments) else None

    def peek_position(self) -> int | None:
        return self._segments[self._next].position if self._next < len(self._segments) else None

    def take_any(self) -> Segment:
        segment = self._segments[self._next]
        self._next += 1
        return segment

    def take(self, segment_id: str, *, expected: str | None = None) -> Segment:
        if self.peek_id() != segment_id:
            wanted = expected or segment_id
            if self.peek_id() is None:
                last = self._segments[-1]
                raise X12SyntaxError(
                    f"the document ends after {last.id} at segment {last.position}; "
                    f"expected {wanted}",
                    segment_id=segment_id,
                )
            raise X12SyntaxError(
                f"expected {wanted} here", segment_id=self.peek_id(), position=self.peek_position()
            )
        return self.take_any()

    def expect_end(self) -> None:
        if self.peek_id() is not None:
            raise X12SyntaxError(
                "nothing may follow IEA in an interchange",
                segment_id=self.peek_id(),
                position=self.peek_position(),
            )


# -- writing --------------------------------------------------------------------------------------


def render(
    segments: Sequence[Segment], separators: Separators, *, line_breaks: bool = False
) -> str:
    """Write segments in ``separators``, each followed by the terminator (and a newline when
    ``line_breaks``, for people reading stored documents; readers ignore it).

    Segments may come in other separators (read from another interchange, or built with the
    standard ones): each element is split by its own separators and joined with these. Data that
    contains one of these separators is refused with ``ValueError``. Trailing empty elements and
    components are dropped, as X12 requires. ISA is written as is, except that ISA11 and ISA16
    always declare ``separators``."""
    terminator = separators.segment + ("\n" if line_breaks else "")
    return "".join(_render_segment(segment, separators) + terminator for segment in segments)


def _render_segment(segment: Segment, separators: Separators) -> str:
    if segment.id == "ISA":
        if len(segment.elements) != len(ISA_WIDTHS):
            raise ValueError(
                f"ISA has {len(ISA_WIDTHS)} elements, not {len(segment.elements)}; "
                "use wrap_interchange"
            )
        elements = list(segment.elements)
        elements[10], elements[15] = separators.repetition, separators.component
        for index, value in enumerate(elements, start=1):
            if index not in (11, 16):
                _checked(value, separators, f"ISA{index:02d}")
        written = separators.element.join(("ISA", *elements))
        if len(written) != ISA_LENGTH - 1:
            raise ValueError(
                f"ISA must have fixed-width elements {ISA_WIDTHS}; use wrap_interchange"
            )
        return written
    source = segment.separators
    elements = []
    for index, value in enumerate(segment.elements, start=1):
        where = f"{segment.id}{index:02d}"
        repetitions = []
        for repetition in value.split(source.repetition):
            components = [
                _checked(c, separators, where) for c in repetition.split(source.component)
            ]
            repetitions.append(separators.component.join(_without_trailing_empties(components)))
        elements.append(separators.repetition.join(repetitions))
    return separators.element.join((segment.id, *_without_trailing_empties(elements)))


def _without_trailing_empties(values: list[str]) -> list[str]:
    while values and not values[-1]:
        values.pop()
    return values


def wrap_transaction_set(
    transaction_set_id: str,
    control_number: str,
    body: Sequence[Segment],
    *,
    implementation_reference: str,
) -> list[Segment]:
    """ST, the body, and SE counting every segment from ST to SE."""
    if not (control_number.isdigit() and 4 <= len(control_number) <= 9):
        raise ValueError(f"ST02 is 4 to 9 digits, not {control_number!r}")
    header = Segment.of("ST", transaction_set_id, control_number, implementation_reference)
    trailer = Segment.of("SE", str(len(body) + 2), control_number)
    return [header, *body, trailer]


def wrap_functional_group(
    transaction_sets: Sequence[Sequence[Segment]],
    *,
    functional_id: str,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    created_at: datetime,
    version: str,
) -> list[Segment]:
    """GS, the transaction sets (each already wrapped in ST/SE), and GE counting them."""
    _check_control_number_range(control_number, "GS06")
    header = Segment.of(
        "GS",
        functional_id,
        sender_id,
        receiver_id,
        format_date(created_at),
        created_at.strftime("%H%M"),
        str(control_number),
        "X",
        version,
    )
    trailer = Segment.of("GE", str(len(transaction_sets)), str(control_number))
    return [header, *(segment for ts in transaction_sets for segment in ts), trailer]


def wrap_interchange(
    groups: Sequence[Sequence[Segment]],
    *,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    created_at: datetime,
    production: bool,
    separators: Separators = STANDARD_SEPARATORS,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    acknowledgment_requested: bool = False,
) -> list[Segment]:
    """ISA (every element padded to its fixed width), the functional groups (each already wrapped
    in GS/GE), and IEA counting them. ``created_at`` is written as given, in the time zone agreed
    with the trading partner; no clock is read here."""
    _check_control_number_range(control_number, "ISA13")
    number = f"{control_number:09d}"
    header_values = [
        "00",
        "",
        "00",
        "",  # no authorization or security information
        sender_qualifier,
        sender_id,
        receiver_qualifier,
        receiver_id,
        created_at.strftime("%y%m%d"),
        created_at.strftime("%H%M"),
        separators.repetition,
        INTERCHANGE_VERSION,
        number,
        "1" if acknowledgment_requested else "0",
        "P" if production else "T",
        separators.component,
    ]
    padded = []
    for index, (value, width) in enumerate(zip(header_values, ISA_WIDTHS, strict=True), start=1):
        if len(value) > width:
            raise ValueError(f"ISA{index:02d} {value!r} is longer than its {width} characters")
        padded.append(value.ljust(width))
    header = Segment("ISA", tuple(padded), separators)
    trailer = Segment.of("IEA", str(len(groups)), number)
    return [header, *(segment for group in groups for segment in group), trailer]


def _check_control_number_range(control_number: int, element: str) -> None:
    if not 1 <= control_number <= 999_999_999:
        raise ValueError(f"{element} is a control number from 1 to 999999999, not {control_number}")


# -- data element values ---------------------------------------------------------------------------


def parse_decimal(value: str) -> Decimal:
    """An X12 R (decimal) value, e.g. '1500', '12.5', '.2'. Raises ``ValueError`` otherwise.

    Decimal, never float: amounts are money and percentages multiply money."""
    if not _DECIMAL.match(value):
        raise ValueError(f"{value!r} is not an X12 decimal number")
    return Decimal(value)


def format_decimal(value: Decimal) -> str:
    """An X12 R value without exponent or insignificant zeros: 1500.00 -> '1500', 0.20 -> '0.2'."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def parse_date(value: str) -> date:
    """An X12 date CCYYMMDD (date format qualifier D8). Raises ``ValueError`` otherwise."""
    try:
        if not (len(value) == 8 and value.isdigit()):
            raise ValueError("eight digits expected")
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CCYYMMDD date ({error})") from None


def parse_date_range(value: str) -> tuple[date, date]:
    """An X12 date range CCYYMMDD-CCYYMMDD (date format qualifier RD8)."""
    start, dash, end = value.partition("-")
    if not dash:
        raise ValueError(f"{value!r} is not a CCYYMMDD-CCYYMMDD range")
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise ValueError(f"{value!r} ends before it starts")
    return first, last


def format_date(value: date) -> str:
    """CCYYMMDD, the D8 form."""
    return value.strftime("%Y%m%d")
