"""Code files: the one CSV format the catalogue is loaded from, whatever the code system.

    code,description,valid_from,valid_to
    G0008,Administration of influenza virus vaccine,2020-01-01,
    G2012,"Brief communication technology-based service (virtual check-in)",2020-01-01,2024-12-31

UTF-8 (with or without the byte order mark spreadsheet programs write), ISO dates (YYYY-MM-DD).
``valid_to`` is the last day a code may be billed, empty while it is in use; a code may have
several rows, one per period, and their periods may not overlap. Operators load their licensed CPT
file in this same format. services/invoicing/codes/README.md says more, and holds the sample
files shipped with the service.

A file with mistakes is refused whole, naming every mistake with its line number, so that an
operator can fix them all in one pass rather than one per attempt.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.invoicing.domain.codes import (
    CPT,
    HCPCS,
    ICD_10_CM,
    TARIFF_PREFIX,
    CatalogueCode,
    CodeSystem,
    overlapping_entries,
)

SHIPPED_CODES = Path(__file__).parents[1] / "codes"
COLUMNS = ("code", "description", "valid_from", "valid_to")
MAX_REPORTED_PROBLEMS = 20

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FILE_STEMS = {"hcpcs": HCPCS, "cpt": CPT, "icd-10-cm": ICD_10_CM}


class CodeFileInvalid(ValueError):
    """A code file that cannot be loaded; ``problems`` are (line number, what is wrong), the line
    None when the mistake is the file's as a whole."""

    def __init__(self, source_name: str, problems: list[tuple[int | None, str]]) -> None:
        self.source_name = source_name
        self.problems = problems
        shown = [
            f"line {line}: {problem}" if line is not None else problem
            for line, problem in problems[:MAX_REPORTED_PROBLEMS]
        ]
        if len(problems) > MAX_REPORTED_PROBLEMS:
            shown.append(f"and {len(problems) - MAX_REPORTED_PROBLEMS} more")
        super().__init__(f"{source_name}: " + "; ".join(shown))


def read_code_file(path: Path, system: str | None = None) -> list[CatalogueCode]:
    """The codes of the file at ``path``; the system is told by the file's name unless given."""
    return parse_code_file(path.read_bytes(), system or system_of_file(path), path.name)


def parse_code_file(content: bytes, system: str, source_name: str) -> list[CatalogueCode]:
    """The codes of a code file's ``content``, all of ``system``. ``source_name`` (the file's
    name) is only for messages."""
    code_system = CodeSystem.named(system)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise CodeFileInvalid(
            source_name,
            [(line, f"byte {content[error.start]:#04x} is not UTF-8; save the file as UTF-8")],
        ) from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise CodeFileInvalid(source_name, [(None, f"the file is empty; {_expected_header()}")])
    columns = [name.strip().lower() for name in header]
    if sorted(columns) != sorted(COLUMNS):
        raise CodeFileInvalid(
            source_name, [(1, f"header {','.join(header)!r}; {_expected_header()}")]
        )
    position = {name: columns.index(name) for name in COLUMNS}

    codes: list[CatalogueCode] = []
    lines: list[int] = []  # the line each code starts on
    problems: list[tuple[int, str]] = []
    row_starts = reader.line_num + 1
    for row in reader:
        line, row_starts = row_starts, reader.line_num + 1
        if not any(field.strip() for field in row):
            continue  # a blank line, or a spreadsheet's empty row
        if len(row) != len(COLUMNS):
            problems.append(
                (line, f"{len(row)} fields; expected {len(COLUMNS)}: {','.join(COLUMNS)}")
            )
            continue
        fields = {name: row[position[name]].strip() for name in COLUMNS}
        try:
            codes.append(
                CatalogueCode(
                    system=code_system.name,
                    code=fields["code"],
                    description=fields["description"],
                    valid_from=_date(fields["valid_from"], "valid_from"),
                    valid_to=_date(fields["valid_to"], "valid_to") if fields["valid_to"] else None,
                )
            )
            lines.append(line)
        except ValueError as error:  # a ValidationError is a ValueError too
            problems.extend((line, problem) for problem in _describe(error))
    for earlier, later in overlapping_entries(codes):
        problems.append(
            (
                lines[later],
                (
                    f"{codes[later].code} {_period(codes[later])} overlaps its period on line "
                    f"{lines[earlier]} ({_period(codes[earlier])})"
                ),
            )
        )
    if problems:
        raise CodeFileInvalid(source_name, sorted(problems))
    if not codes:
        raise CodeFileInvalid(source_name, [(None, "the file has a header but no codes")])
    return codes


def system_of_file(path: Path) -> str:
    """The code system a file holds, told by its name: hcpcs.csv, cpt.csv, icd-10-cm.csv,
    tariff-<name>.csv."""
    stem = path.stem.lower()
    if stem in _FILE_STEMS:
        return _FILE_STEMS[stem]
    if stem.startswith("tariff-"):
        return CodeSystem.named(TARIFF_PREFIX + stem.removeprefix("tariff-")).name
    raise ValueError(
        f"cannot tell the code system of {path.name}: name it hcpcs.csv, cpt.csv, icd-10-cm.csv "
        "or tariff-<name>.csv, or say which system it holds"
    )


def shipped_code_files() -> dict[str, Path]:
    """The sample code files shipped with the service, by code system (no CPT: it is licensed)."""
    return {system_of_file(path): path for path in sorted(SHIPPED_CODES.glob("*.csv"))}


def _date(text: str, column: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a date (YYYY-MM-DD)") from None


def _describe(error: ValueError) -> list[str]:
    if not isinstance(error, ValidationError):
        return [str(error)]
    return [_describe_detail(detail) for detail in error.errors()]


def _describe_detail(detail: ErrorDetails) -> str:
    # A validator's own ValueError reads better without pydantic's "Value error, " prefix, and
    # says which code or column it is about.
    if detail["type"] == "value_error":
        return str(detail["ctx"]["error"])
    column = ".".join(str(part) for part in detail["loc"])
    return f"{column}: {detail['msg']}" if column else detail["msg"]


def _period(entry: CatalogueCode) -> str:
    if entry.valid_to is None:
        return f"from {entry.valid_from} on"
    return f"from {entry.valid_from} to {entry.valid_to}"


def _expected_header() -> str:
    return f"expected the header {','.join(COLUMNS)}"
