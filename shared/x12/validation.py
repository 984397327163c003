"""An X12 document checked against its HIPAA implementation guide with pyx12, for every service
that sends or reads one (invoicing's 837P, payments' 835).

pyx12 walks the document through the guide's map: loop and segment order and repeats, mandatory
segments, element lengths, types and code lists, and the envelope's counts and control numbers. A
trading partner runs the same checks and answers a failed one with a 999 rejecting the whole file;
here each finding is an ``X12Problem`` naming the segment, its position, its loop and pyx12's
message, while the document is still ours to fix (or, for one received, to refuse with reasons).

Four gaps in what pyx12 does on its own are filled here:

- it validates whatever transaction set it has a map for, so a 270 would pass as an 837P: the
  envelope is first checked to hold only the ``Guide``'s documents (GS01, GS08, ST01, ST03);
- its error report leaves out element errors in the ISA, GS and ST segments, which it only logs:
  those are taken from its log;
- it reports where a segment sits in the guide's map, not the loop: the loop is looked up in the
  map it validated against;
- its reader fails with an IndexError on some broken envelopes (a GE without its GS, a transaction
  set without its ST): the shared X12 reader then says what is broken.

pyx12 logs every error it finds. All of them are returned as problems, so its logger is kept out
of the application's logs (and out of test output).

pyx12 parses its XML maps again for every document, which costs 90% of a validation; this module
makes pyx12 keep each thread's parsed maps (``load_map_file``), so a validation takes milliseconds.
Importing it installs that cache in pyx12 for the whole process.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyx12.errors
import pyx12.map_if
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document
from pydantic import BaseModel, ConfigDict, Field

from shared.x12.segments import X12SyntaxError, parse_interchange

ENVELOPE_SEGMENTS = ("ISA", "GS", "ST", "SE", "GE", "IEA")
# pyx12's envelope error codes that concern the header (a control number used twice); all the
# others concern the trailer: its counts and control number, or its absence.
_HEADER_CODES = {"ISA": {"025"}, "GS": {"6"}, "ST": {"23"}}
_MISSING_TRAILER_CODES = {"ISA": "023", "GS": "3", "ST": "2"}
_TRAILER = {"ISA": "IEA", "GS": "GE", "ST": "SE"}
_IDENTIFYING_ELEMENTS = {"GS": ("GS01", "GS08"), "ST": ("ST01", "ST03")}
# How pyx12 gives up on a document: its own errors, and lookups in its reader's loop stack that a
# broken envelope leaves empty.
_PYX12_FAILURES = (
    pyx12.errors.EngineError,
    pyx12.errors.X12Error,
    pyx12.errors.X12PathError,
    IndexError,
    KeyError,
    ValueError,  # e.g. a GE01 that is not a number: pyx12 reads it with int()
)


@dataclass(frozen=True)
class Guide:
    """The implementation guide a document must follow, and what its envelope says of it."""

    name: str  # how people call the document, e.g. '837P'
    transaction_set_id: str  # ST01, e.g. '837'
    version: str  # GS08 and ST03, e.g. '005010X222A1'
    functional_id: str  # GS01, e.g. 'HC'
    functional_meaning: str  # what GS01 says, e.g. 'health care claim'
    map_file: str  # pyx12's map of the guide, e.g. '837.5010.X222.A1.xml'
    # Where pyx12's map contradicts the guide: (element, pyx12 error code) findings that are not
    # problems, e.g. ('ST03', '10') for a map that marks the required ST03 as not used.
    map_errata: frozenset[tuple[str, str]] = frozenset()

    @property
    def refusal_code(self) -> str:
        """The problem code of a document that is not of this guide, e.g. 'not-837p'."""
        return f"not-{self.name.lower()}"

    @property
    def called(self) -> str:
        """The document's name with its article, for messages: 'an 837P', 'a 270'."""
        return ("an " if self.name.startswith("8") else "a ") + self.name


class X12Problem(BaseModel):
    """One thing wrong with an X12 document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: str | None = Field(description="Segment id, e.g. HI; None for the whole document")
    position: int | None = Field(
        None,
        description="1-based segment number, ISA being 1, where pyx12 found it: for a missing "
        "segment, the one in its place",
    )
    loop: str | None = Field(
        None,
        description="The guide's loop, e.g. 2300; for a segment pyx12 could not place, the loop "
        "it was reading",
    )
    element: str | None = Field(None, description="e.g. N402, or SV101-2 for a component")
    code: str = Field(
        description="pyx12's error code (the one a 999 or TA1 would carry); not-x12, or not- and "
        "the document's name (not-837p, not-835) for the checks made before pyx12 runs; envelope "
        "or pyx12 when pyx12 could not read it"
    )
    message: str
    value: str | None = Field(None, description="The offending value, when there is one")

    def __str__(self) -> str:
        where = self.segment or "the document"
        if self.position is not None:
            where += f" at segment {self.position}"
        if self.loop:
            where += f" in loop {self.loop}"
        if self.element:
            where += f", {self.element}"
        text = f"{where}: {self.message} [{self.code}]"
        if self.value and self.value not in self.message:
            text += f" (value {self.value!r})"
        return text


class InvalidX12Document(Exception):
    """A document its trading partner would reject; ``problems`` says why."""

    def __init__(self, document: str, problems: Sequence[X12Problem]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"the {document} is not valid ({len(self.problems)} problems):\n{listed}")


def validate(text: str, guide: Guide) -> list[X12Problem]:
    """Every problem pyx12 finds in ``text`` against ``guide``; an empty list when it is valid. A
    document that is not X12, or not of the guide, gets one problem per reason and is not
    validated further."""
    try:
        envelope = _envelope(text)
    except pyx12.errors.X12Error as error:
        return [
            X12Problem(
                segment="ISA",
                position=1,
                code="not-x12",
                message=f"not an X12 interchange: {error}",
            )
        ]
    except _PYX12_FAILURES as error:
        return _unreadable(text, error)
    problems = _not_of_guide(envelope, guide)
    if problems:
        return problems
    return _validated(text, envelope, guide)


# -- before pyx12: is it a document of the guide at all? -------------------------------------------


@dataclass(frozen=True)
class _EnvelopeSegment:
    id: str
    position: int
    elements: dict[str, str]


def _envelope(text: str) -> list[_EnvelopeSegment]:
    """The ISA/GS/ST/SE/GE/IEA segments as pyx12's reader splits them, with their positions and the
    elements that say what they hold. Raises pyx12's ``X12Error`` when the text does not start
    with a 5010 or 4010 ISA."""
    segments = []
    with pyx12.x12file.X12Reader(io.StringIO(text)) as reader:
        for segment in reader:
            segment_id = segment.get_seg_id()
            if segment_id in ENVELOPE_SEGMENTS:
                elements = {
                    name: segment.get_value(name) or ""
                    for name in _IDENTIFYING_ELEMENTS.get(segment_id, ())
                }
                segments.append(_EnvelopeSegment(segment_id, reader.get_cur_line(), elements))
    return segments


def _not_of_guide(envelope: list[_EnvelopeSegment], guide: Guide) -> list[X12Problem]:
    """Why the envelope does not hold the guide's documents only: pyx12 would validate a 270
    against the 270's map and call it valid."""
    problems = []

    def problem(segment: _EnvelopeSegment, element: str, expected: str) -> None:
        value = segment.elements[element]
        problems.append(
            X12Problem(
                segment=segment.id,
                position=segment.position,
                element=element,
                code=guide.refusal_code,
                message=f"{element} is {value!r}; {guide.called} has {expected}",
                value=value,
            )
        )

    for segment in envelope:
        if segment.id == "GS":
            if segment.elements["GS01"] != guide.functional_id:
                problem(segment, "GS01", f"{guide.functional_id} ({guide.functional_meaning})")
            if segment.elements["GS08"] != guide.version:
                problem(segment, "GS08", guide.version)
        elif segment.id == "ST":
            if segment.elements["ST01"] != guide.transaction_set_id:
                problem(segment, "ST01", guide.transaction_set_id)
            if segment.elements["ST03"] not in ("", guide.version):
                problem(segment, "ST03", guide.version)
    if not problems and not any(segment.id == "ST" for segment in envelope):
        problems.append(
            X12Problem(
                segment="ST",
                code=guide.refusal_code,
                message="the interchange holds no transaction set",
            )
        )
    return problems


# -- pyx12 -----------------------------------------------------------------------------------------

# pyx12's defaults, not ParamsUnix: that one also reads ~/.pyx12.conf.xml, which would make the
# verdict depend on the machine.
_PARAMETERS = pyx12.params.ParamsBase()

# pyx12 parses its XML maps again for every document: 0.15 s of a 0.17 s 837P validation. Each
# thread parses each map once and keeps it: pyx12 4 keeps what it counts while it walks a document
# outside the map (the map only caches its nodes' path names), so a map serves one document after
# another. Validation then takes a few milliseconds; tests hold that a broken document leaves no
# trace on the next verdict. Per thread, because a map is not safe to walk from two threads at once.
parse_map_file = pyx12.map_if.load_map_file  # stock pyx12, kept for comparisons
_parsed_maps = threading.local()


def load_map_file(map_file: str, param: Any, map_path: str | None = None) -> Any:
    """pyx12's ``load_map_file``, parsing each map once per thread; installed in pyx12."""
    maps: dict[tuple[str, str | None], Any] = _parsed_maps.__dict__.setdefault("maps", {})
    key = (map_file, map_path)
    if key not in maps:
        maps[key] = parse_map_file(map_file, param, map_path)
    return maps[key]


pyx12.map_if.load_map_file = load_map_file


def _validated(text: str, envelope: list[_EnvelopeSegment], guide: Guide) -> list[X12Problem]:
    report = io.StringIO()
    with _pyx12_log() as records:
        try:
            valid = pyx12.x12n_document.x12n_document(
                _PARAMETERS, io.StringIO(text), None, None, fd_json=report
            )
        except _PYX12_FAILURES as error:
            return _unreadable(text, error)
    problems = _reported(
        json.loads(report.getvalue() or '{"interchanges": []}'), envelope, guide.map_file
    )
    problems += _envelope_element_errors(records, envelope)
    if not valid and not problems:
        problems.append(
            X12Problem(
                segment=None,
                code="pyx12",
                message="pyx12 found the document invalid without saying where",
            )
        )
    problems = [p for p in problems if (p.element, p.code) not in guide.map_errata]
    problems.sort(key=lambda problem: problem.position or 0)
    return problems


def _unreadable(text: str, error: Exception) -> list[X12Problem]:
    """pyx12 gave up on the document: the shared X12 reader names what is broken in its envelope,
    or else pyx12's own error is all there is to say."""
    try:
        parse_interchange(text)
    except X12SyntaxError as broken:
        message = str(broken)
        if broken.position is not None:  # the message starts with where; position says it
            message = message.split(": ", 1)[1]
        return [
            X12Problem(
                segment=broken.segment_id,
                position=broken.position,
                code="envelope",
                message=message,
            )
        ]
    return [
        X12Problem(
            segment=None,
            code="pyx12",
            message=f"pyx12 could not read the document: {type(error).__name__}: {error}",
        )
    ]


def _reported(
    report: dict[str, Any], envelope: list[_EnvelopeSegment], map_file: str
) -> list[X12Problem]:
    """The problems in pyx12's JSON error report: envelope errors of each interchange, group and
    transaction set, and the segment and element errors of each transaction set."""
    headers = {
        segment_id: iter([s for s in envelope if s.id == segment_id])
        for segment_id in ("ISA", "GS", "ST")
    }
    problems: list[X12Problem] = []
    for interchange in report["interchanges"]:
        problems += _envelope_errors("ISA", interchange, next(headers["ISA"], None))
        for group in interchange["groups"]:
            problems += _envelope_errors("GS", group, next(headers["GS"], None))
            for transaction_set in group["transactions"]:
                problems += _envelope_errors("ST", transaction_set, next(headers["ST"], None))
                for segment in transaction_set["segments"]:
                    problems += _segment_errors(segment, map_file)
    return problems


def _envelope_errors(
    header_id: str, reported: dict[str, Any], header: _EnvelopeSegment | None
) -> list[X12Problem]:
    """Errors pyx12 attaches to an envelope level. A header's position is where it was read; a
    trailer's is the level's last line in the report, and a missing trailer has none."""
    problems = []
    for error in reported["errors"]:
        code = error["err_cde"]
        if code in _HEADER_CODES[header_id]:
            segment_id, position = header_id, header.position if header else None
        elif code == _MISSING_TRAILER_CODES[header_id]:
            segment_id, position = _TRAILER[header_id], None
        else:
            segment_id, position = _TRAILER[header_id], reported.get("cur_line")
        problems.append(
            X12Problem(segment=segment_id, position=position, code=code, message=error["err_str"])
        )
    return problems


def _segment_errors(segment: dict[str, Any], map_file: str) -> list[X12Problem]:
    loop = _loops_of_map_segments(map_file).get((segment["pos"], segment["name"]))
    common = {"segment": segment["seg_id"], "position": segment["cur_line"], "loop": loop}
    problems = [
        X12Problem(
            **common, code=error["err_cde"], message=error["err_str"], value=error["err_val"]
        )
        for error in segment["errors"]
    ]
    for element in segment["elements"]:
        reference = f"{segment['seg_id']}{element['ele_pos']:02d}"
        if element["subele_pos"] is not None:
            reference += f"-{element['subele_pos']}"
        problems += [
            X12Problem(
                **common,
                element=reference,
                code=error["err_cde"],
                message=error["err_str"],
                value=error["err_val"],
            )
            for error in element["errors"]
        ]
    return problems


@cache
def _loops_of_map_segments(map_file: str) -> dict[tuple[int, str], str]:
    """The loop of each segment of a guide's map, by the segment's position and name there (what
    pyx12 reports of a segment). Two segments of a guide may share both, in sibling loops; their
    loop reads '2000B/2000C'."""
    guide = pyx12.map_if.load_map_file(map_file, _PARAMETERS)
    loops: dict[tuple[int, str], set[str]] = defaultdict(set)
    pending: list[Any] = [guide]
    while pending:
        node = pending.pop()
        for children in node.pos_map.values():
            for child in children:
                if child.is_loop():
                    pending.append(child)
                elif child.is_segment():
                    loops[(child.pos, child.name)].add(child.get_parent().id)
    return {key: "/".join(sorted(ids)) for key, ids in loops.items()}


# pyx12's log line for an element error: "Line:2 ELE:8 - Data element "Date" (GS04) contains ..."
_ELEMENT_ERROR = re.compile(r"^Line:(?P<line>\d+) ELE:(?P<code>\w+) - (?P<message>.*)$", re.DOTALL)
_ELEMENT_REFERENCE = re.compile(r"\((?P<element>[A-Z][A-Z0-9]{1,2}\d{2})\)")
_REPEATED_VALUE = re.compile(r" \((?P<value>[^()]*)\)$")


def _envelope_element_errors(
    records: list[logging.LogRecord], envelope: list[_EnvelopeSegment]
) -> list[X12Problem]:
    """Element errors in ISA, GS, ST (and their trailers), which pyx12's report leaves out."""
    envelope_at = {segment.position: segment.id for segment in envelope}
    problems = []
    for record in records:
        match = _ELEMENT_ERROR.match(record.getMessage())
        if match is None or int(match["line"]) not in envelope_at:
            continue
        position, message, value = int(match["line"]), match["message"], None
        # pyx12 appends the bad value to the message, which usually names it already
        repeated = _REPEATED_VALUE.search(message)
        if repeated and f"({repeated['value']})" in message[: repeated.start()]:
            message, value = message[: repeated.start()], repeated["value"]
        reference = _ELEMENT_REFERENCE.search(message)
        problems.append(
            X12Problem(
                segment=envelope_at[position],
                position=position,
                element=reference["element"] if reference else None,
                code=match["code"],
                message=message,
                value=value,
            )
        )
    return problems


_collected_records: ContextVar[list[logging.LogRecord] | None] = ContextVar(
    "pyx12_log_records", default=None
)


class _Pyx12LogCollector(logging.Handler):
    """Keeps pyx12's records of the validation running in this context; drops all others."""

    def emit(self, record: logging.LogRecord) -> None:
        records = _collected_records.get()
        if records is not None:
            records.append(record)


_PYX12_LOGGER = logging.getLogger("pyx12")
# ERROR whatever the application's level: the envelope's element errors are read from these records
_PYX12_LOGGER.setLevel(logging.ERROR)
_PYX12_LOGGER.addHandler(_Pyx12LogCollector())
_PYX12_LOGGER.propagate = False


@contextmanager
def _pyx12_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    token = _collected_records.set(records)
    try:
        yield records
    finally:
        _collected_records.reset(token)
