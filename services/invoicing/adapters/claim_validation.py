"""An 837P checked against the 005010X222A1 implementation guide with pyx12, before it is sent.

pyx12 walks the document through the guide's map: loop and segment order and repeats, mandatory
segments, element lengths, types and code lists (states, places of service, ...), and the envelope's
counts and control numbers. A clearinghouse runs the same checks and answers a failed one with a
999 rejecting the whole file, hours later; here a problem is found while the claim is still ours to
fix, as a ``ClaimProblem`` naming the segment, its position, its loop and pyx12's message.

Four gaps in what pyx12 does on its own are filled here:

- it validates whatever transaction set it has a map for, so a 270 would pass: the envelope is
  first checked to hold only 837Ps (GS01 HC, GS08 and ST03 005010X222A1, ST01 837);
- its error report leaves out element errors in the ISA, GS and ST segments, which it only logs:
  those are taken from its log;
- it reports where a segment sits in the guide's map, not the loop: the loop is looked up in the
  map it validated against;
- its reader fails with an IndexError on some broken envelopes (a GE without its GS, a transaction
  set without its ST): the shared X12 reader then says what is broken.

pyx12 logs every error it finds. All of them are returned as problems, so its logger is kept out
of the application's logs (and out of test output).
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

from shared.x12 import X12SyntaxError, parse_interchange

IMPLEMENTATION_GUIDE = "005010X222A1"
GUIDE_MAP = "837.5010.X222.A1.xml"  # pyx12's map of the guide
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


class ClaimProblem(BaseModel):
    """One thing wrong with an 837P."""

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
        description="pyx12's error code (the one a 999 or TA1 would carry); not-x12 or not-837p "
        "for the checks made before pyx12 runs; envelope or pyx12 when pyx12 could not read it"
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


class InvalidClaim(Exception):
    """An 837P that a clearinghouse would reject; ``problems`` says why."""

    def __init__(self, problems: Sequence[ClaimProblem]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(f"the 837P is not valid ({len(self.problems)} problems):\n{listed}")


def validate_837p(text: str) -> list[ClaimProblem]:
    """Every problem pyx12 finds in ``text`` against 005010X222A1; an empty list when it is a valid
    837P. A document that is not X12, or not an 837P, gets one problem per reason and is not
    validated further."""
    try:
        envelope = _envelope(text)
    except pyx12.errors.X12Error as error:
        return [
            ClaimProblem(
                segment="ISA",
                position=1,
                code="not-x12",
                message=f"not an X12 interchange: {error}",
            )
        ]
    except _PYX12_FAILURES as error:
        return _unreadable(text, error)
    problems = _not_837p(envelope)
    if problems:
        return problems
    return _validated(text, envelope)


def ensure_valid_837p(text: str) -> None:
    """Raise ``InvalidClaim`` with every problem when ``text`` is not a valid 837P."""
    problems = validate_837p(text)
    if problems:
        raise InvalidClaim(problems)


# -- before pyx12: is it an 837P at all? -----------------------------------------------------------


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


def _not_837p(envelope: list[_EnvelopeSegment]) -> list[ClaimProblem]:
    """Why the envelope does not hold 837Ps only: pyx12 would validate a 270 against the 270's map
    and call it valid."""
    problems = []

    def problem(segment: _EnvelopeSegment, element: str, expected: str) -> None:
        value = segment.elements[element]
        problems.append(
            ClaimProblem(
                segment=segment.id,
                position=segment.position,
                element=element,
                code="not-837p",
                message=f"{element} is {value!r}; an 837P has {expected}",
                value=value,
            )
        )

    for segment in envelope:
        if segment.id == "GS":
            if segment.elements["GS01"] != "HC":
                problem(segment, "GS01", "HC (health care claim)")
            if segment.elements["GS08"] != IMPLEMENTATION_GUIDE:
                problem(segment, "GS08", IMPLEMENTATION_GUIDE)
        elif segment.id == "ST":
            if segment.elements["ST01"] != "837":
                problem(segment, "ST01", "837")
            if segment.elements["ST03"] not in ("", IMPLEMENTATION_GUIDE):
                problem(segment, "ST03", IMPLEMENTATION_GUIDE)
    if not problems and not any(segment.id == "ST" for segment in envelope):
        problems.append(
            ClaimProblem(
                segment="ST", code="not-837p", message="the interchange holds no transaction set"
            )
        )
    return problems


# -- pyx12 -----------------------------------------------------------------------------------------

# pyx12's defaults, not ParamsUnix: that one also reads ~/.pyx12.conf.xml, which would make the
# verdict depend on the machine.
_PARAMETERS = pyx12.params.ParamsBase()

# pyx12 parses its XML maps again for every document: 0.15 s of a 0.17 s validation. Each thread
# parses each map once and keeps it: pyx12 4 keeps what it counts while it walks a document
# outside the map (the map only caches its nodes' path names), so a map serves one document after
# another. Validation then takes a few milliseconds; tests hold that a broken document leaves no
# trace on the next verdict.
_parse_map_file = pyx12.map_if.load_map_file
_parsed_maps = threading.local()


def _load_map_file(map_file: str, param: Any, map_path: str | None = None) -> Any:
    maps: dict[tuple[str, str | None], Any] = _parsed_maps.__dict__.setdefault("maps", {})
    key = (map_file, map_path)
    if key not in maps:
        maps[key] = _parse_map_file(map_file, param, map_path)
    return maps[key]


pyx12.map_if.load_map_file = _load_map_file


def _validated(text: str, envelope: list[_EnvelopeSegment]) -> list[ClaimProblem]:
    report = io.StringIO()
    with _pyx12_log() as records:
        try:
            valid = pyx12.x12n_document.x12n_document(
                _PARAMETERS, io.StringIO(text), None, None, fd_json=report
            )
        except _PYX12_FAILURES as error:
            return _unreadable(text, error)
    problems = _reported(json.loads(report.getvalue() or '{"interchanges": []}'), envelope)
    problems += _envelope_element_errors(records, envelope)
    problems.sort(key=lambda problem: problem.position or 0)
    if not valid and not problems:
        problems.append(
            ClaimProblem(
                segment=None,
                code="pyx12",
                message="pyx12 found the document invalid without saying where",
            )
        )
    return problems


def _unreadable(text: str, error: Exception) -> list[ClaimProblem]:
    """pyx12 gave up on the document: the shared X12 reader names what is broken in its envelope,
    or else pyx12's own error is all there is to say."""
    try:
        parse_interchange(text)
    except X12SyntaxError as broken:
        message = str(broken)
        if broken.position is not None:  # the message starts with where; position says it
            message = message.split(": ", 1)[1]
        return [
            ClaimProblem(
                segment=broken.segment_id,
                position=broken.position,
                code="envelope",
                message=message,
            )
        ]
    return [
        ClaimProblem(
            segment=None,
            code="pyx12",
            message=f"pyx12 could not read the document: {type(error).__name__}: {error}",
        )
    ]


def _reported(report: dict[str, Any], envelope: list[_EnvelopeSegment]) -> list[ClaimProblem]:
    """The problems in pyx12's JSON error report: envelope errors of each interchange, group and
    transaction set, and the segment and element errors of each transaction set."""
    headers = {
        segment_id: iter([s for s in envelope if s.id == segment_id])
        for segment_id in ("ISA", "GS", "ST")
    }
    problems: list[ClaimProblem] = []
    for interchange in report["interchanges"]:
        problems += _envelope_errors("ISA", interchange, next(headers["ISA"], None))
        for group in interchange["groups"]:
            problems += _envelope_errors("GS", group, next(headers["GS"], None))
            for transaction_set in group["transactions"]:
                problems += _envelope_errors("ST", transaction_set, next(headers["ST"], None))
                for segment in transaction_set["segments"]:
                    problems += _segment_errors(segment)
    return problems


def _envelope_errors(
    header_id: str, reported: dict[str, Any], header: _EnvelopeSegment | None
) -> list[ClaimProblem]:
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
            ClaimProblem(segment=segment_id, position=position, code=code, message=error["err_str"])
        )
    return problems


def _segment_errors(segment: dict[str, Any]) -> list[ClaimProblem]:
    loop = _loops_of_map_segments().get((segment["pos"], segment["name"]))
    common = {"segment": segment["seg_id"], "position": segment["cur_line"], "loop": loop}
    problems = [
        ClaimProblem(
            **common, code=error["err_cde"], message=error["err_str"], value=error["err_val"]
        )
        for error in segment["errors"]
    ]
    for element in segment["elements"]:
        reference = f"{segment['seg_id']}{element['ele_pos']:02d}"
        if element["subele_pos"] is not None:
            reference += f"-{element['subele_pos']}"
        problems += [
            ClaimProblem(
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
def _loops_of_map_segments() -> dict[tuple[int, str], str]:
    """The loop of each segment of the guide's map, by the segment's position and name there (what
    pyx12 reports of a segment). Two segments of the guide share both, in sibling loops; their
    loop reads '2000B/2000C'."""
    guide = pyx12.map_if.load_map_file(GUIDE_MAP, _PARAMETERS)
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
) -> list[ClaimProblem]:
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
            ClaimProblem(
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
