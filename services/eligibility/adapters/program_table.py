"""The program table file: poverty guidelines and payment programs, kept by operators in TOML
(the default is services/eligibility/programs.toml).

The file is read once at start-up; a mistake in it stops the service with an error naming the
file and the key (``programs[0].tiers[1].discount_bp: ...``), rather than surfacing later as a
wrong discount."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.eligibility.domain.programs import ProgramTable


class ProgramTableInvalid(ValueError):
    """The program table file cannot be read or does not describe a valid table."""


def load_program_table(path: Path) -> ProgramTable:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ProgramTableInvalid(f"{path}: not valid TOML: {error}") from error
    try:
        return ProgramTable.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(_describe(detail) for detail in error.errors())
        raise ProgramTableInvalid(f"{path}: {problems}") from error


def _describe(detail: ErrorDetails) -> str:
    """One validation error as ``key.path[index]: message``."""
    key = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in detail["loc"]
    ).lstrip(".")
    # A validator's own ValueError reads better without pydantic's "Value error, " prefix.
    message = str(detail["ctx"]["error"]) if detail["type"] == "value_error" else detail["msg"]
    return f"{key}: {message}" if key else message
