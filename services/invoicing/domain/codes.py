"""The code catalogue's values: which code systems exist, what their codes look like, and whether a
code may be billed on a day.

A charge names what was done with a procedure or service code (HCPCS Level II, CPT, or a utility's
tariff) and why with diagnosis codes (ICD-10-CM). Operators load each system's codes from files
into the catalogue (adapters/code_files.py, adapters/catalogue_store.py); every catalogue entry is
one period in which a code may be billed, so a code that was retired, reworded or reinstated has
one entry per period.

Codes are kept in one canonical form so that comparisons never depend on how someone typed them:
upper case, and ICD-10-CM with its dot (``j069``, ``J069`` and ``J06.9`` are all ``J06.9``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from pydantic import Field, ValidationInfo, field_validator, model_validator

from services.invoicing.domain.events import Value
from shared.rules import RuleViolated

HCPCS = "HCPCS"
CPT = "CPT"
ICD_10_CM = "ICD-10-CM"
TARIFF_PREFIX = "tariff:"

MAX_MODIFIERS = 4  # an 837P service line carries at most four (SV101-3 to SV101-6)

_TARIFF_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_MODIFIER = re.compile(r"[A-Z0-9]{2}")


class CodeKind(StrEnum):
    SERVICE = "service"  # what a charge is for: a procedure, supply, drug or tariff item
    DIAGNOSIS = "diagnosis"  # why it was done


class MalformedCode(ValueError):
    """A name that is not a code system, or a code that cannot be one of its system's codes."""


@dataclass(frozen=True)
class CodeSystem:
    """One code system: its kind and the shape of its codes. ``CodeSystem.named`` is the way in."""

    name: str
    kind: CodeKind
    pattern: re.Pattern[str]
    shape: str  # the pattern in words, for messages
    licensed: bool = False  # the project may not ship its codes (CPT belongs to the AMA)

    @classmethod
    def named(cls, name: str) -> CodeSystem:
        known = _KNOWN_SYSTEMS.get(name)
        if known is not None:
            return known
        if name.startswith(TARIFF_PREFIX) and _TARIFF_NAME.fullmatch(name[len(TARIFF_PREFIX) :]):
            return cls(
                name=name,
                kind=CodeKind.SERVICE,
                pattern=re.compile(r"[A-Z0-9][A-Z0-9-]{0,19}"),
                shape="1 to 20 capital letters, digits or hyphens, not starting with a hyphen, "
                "e.g. WATER-M3",
            )
        raise MalformedCode(
            f"{name!r} is not a code system: expected {HCPCS}, {CPT}, {ICD_10_CM} or "
            f"{TARIFF_PREFIX}<name> (lower-case letters, digits and hyphens, "
            "e.g. tariff:city-water)"
        )

    @property
    def is_tariff(self) -> bool:
        return self.name.startswith(TARIFF_PREFIX)

    def canonical(self, code: str) -> str:
        """``code`` in the form the catalogue keeps: trimmed, upper case, ICD-10-CM dotted.

        Raises MalformedCode when it cannot be a code of this system."""
        candidate = code.strip().upper()
        if self.name == ICD_10_CM and "." not in candidate and len(candidate) > 3:
            candidate = f"{candidate[:3]}.{candidate[3:]}"
        if not self.pattern.fullmatch(candidate):
            raise MalformedCode(f"{code!r} is not in the form of {self.name} codes: {self.shape}")
        return candidate

    def is_well_formed(self, code: str) -> bool:
        try:
            self.canonical(code)
        except MalformedCode:
            return False
        return True


_KNOWN_SYSTEMS = {
    system.name: system
    for system in (
        CodeSystem(
            name=HCPCS,
            kind=CodeKind.SERVICE,
            pattern=re.compile(r"[A-V][0-9]{4}"),
            shape="a letter A to V and 4 digits, e.g. G0008, J1100 (HCPCS Level II)",
        ),
        CodeSystem(
            name=CPT,
            kind=CodeKind.SERVICE,
            pattern=re.compile(r"[0-9]{5}|[0-9]{4}[FT]"),
            shape="5 digits, or 4 digits and F or T, e.g. 99213, 0001F, 0042T",
            licensed=True,
        ),
        CodeSystem(
            name=ICD_10_CM,
            kind=CodeKind.DIAGNOSIS,
            pattern=re.compile(r"[A-Z][0-9][A-Z0-9](\.[A-Z0-9]{1,4})?"),
            shape="a letter, a digit, a letter or digit, then optionally a dot and 1 to 4 letters "
            "or digits, e.g. J06.9, S52.521A",
        ),
    )
}


def _system_name(name: str) -> str:
    return CodeSystem.named(name).name


def _canonical_code(code: str, info: ValidationInfo) -> str:
    system = info.data.get("system")
    if system is None:  # the system itself was refused; that error says enough
        return code
    return CodeSystem.named(system).canonical(code)


def canonical_modifiers(modifiers: list[str]) -> list[str]:
    """Modifiers as a claim carries them: upper case, at most four, none twice."""
    canonical = [modifier.strip().upper() for modifier in modifiers]
    for modifier in canonical:
        if not _MODIFIER.fullmatch(modifier):
            raise ValueError(f"{modifier!r} is not a modifier: expected 2 letters or digits")
    if len(canonical) > MAX_MODIFIERS:
        raise ValueError(f"at most {MAX_MODIFIERS} modifiers, not {len(canonical)}")
    if len(set(canonical)) < len(canonical):
        raise ValueError(f"modifiers {', '.join(canonical)} name one twice")
    return canonical


class CodeKey(Value):
    """A code of a system, without modifiers: what the catalogue and crosswalks are keyed by."""

    system: str = Field(description="HCPCS, CPT, ICD-10-CM or tariff:<name>")
    code: str = Field(description="Canonical form: upper case, ICD-10-CM with its dot")

    _system = field_validator("system")(_system_name)
    _code = field_validator("code")(_canonical_code)

    @property
    def label(self) -> str:
        """As people write it: ``CPT 99213``."""
        return f"{self.system} {self.code}"


class CodeRef(Value):
    """How a charge names its procedure or service: a code and the modifiers that qualify it
    (25 significant, separately identifiable E/M; LT left side; ...)."""

    system: str = Field(description="HCPCS, CPT, ICD-10-CM or tariff:<name>")
    code: str = Field(description="Canonical form: upper case, ICD-10-CM with its dot")
    modifiers: list[str] = Field(
        default=[], description="Up to 4, each 2 letters or digits, in order"
    )

    _system = field_validator("system")(_system_name)
    _code = field_validator("code")(_canonical_code)
    _modifiers = field_validator("modifiers")(canonical_modifiers)

    @model_validator(mode="after")
    def _diagnoses_take_no_modifiers(self) -> CodeRef:
        if self.modifiers and CodeSystem.named(self.system).kind is CodeKind.DIAGNOSIS:
            raise ValueError(f"{self.system} codes take no modifiers")
        return self

    @property
    def key(self) -> CodeKey:
        return CodeKey(system=self.system, code=self.code)

    @property
    def label(self) -> str:
        """As people write it: ``CPT 99213`` or ``CPT 99213-25-LT``."""
        return "-".join([f"{self.system} {self.code}", *self.modifiers])


class CatalogueCode(Value):
    """One period in which a code may be billed: from ``valid_from`` to ``valid_to``, both days
    included; ``valid_to`` is None while the code is in use."""

    system: str = Field(description="HCPCS, CPT, ICD-10-CM or tariff:<name>")
    code: str = Field(description="Canonical form: upper case, ICD-10-CM with its dot")
    description: str = Field(min_length=1, max_length=1000)
    valid_from: date
    valid_to: date | None = Field(None, description="The last day it may be billed")

    _system = field_validator("system")(_system_name)
    _code = field_validator("code")(_canonical_code)

    @field_validator("description")
    @classmethod
    def _trimmed(cls, description: str) -> str:
        if not description.strip():
            raise ValueError("a code needs a description")
        return description.strip()

    @model_validator(mode="after")
    def _period_in_order(self) -> CatalogueCode:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    @property
    def key(self) -> CodeKey:
        return CodeKey(system=self.system, code=self.code)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def overlapping_entries(codes: Sequence[CatalogueCode]) -> list[tuple[int, int]]:
    """Positions of entries whose periods overlap another entry of the same code, as (earlier
    position, later position) pairs. One code can only mean one thing on a day, so a catalogue
    with overlaps is refused (two entries starting on the same day overlap too)."""
    by_code: dict[tuple[str, str], list[int]] = {}
    for position, entry in enumerate(codes):
        by_code.setdefault((entry.system, entry.code), []).append(position)
    overlaps: list[tuple[int, int]] = []
    for positions in by_code.values():
        ordered = sorted(positions, key=lambda p: (codes[p].valid_from, p))
        reach: int | None = None  # the entry, so far, whose period ends last
        for position in ordered:
            if reach is not None:
                ends = codes[reach].valid_to
                if ends is None or ends >= codes[position].valid_from:
                    overlaps.append((min(reach, position), max(reach, position)))
            if reach is None or _ends_after(codes[position], codes[reach]):
                reach = position
    return sorted(overlaps)


def _ends_after(entry: CatalogueCode, other: CatalogueCode) -> bool:
    if entry.valid_to is None:
        return True
    return other.valid_to is not None and entry.valid_to > other.valid_to


class CodeStatus(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"  # no entry for the code at all
    EXPIRED = "expired"  # its last period ended before the day
    NOT_YET_VALID = "not_yet_valid"  # its first period starts after the day
    MALFORMED = "malformed"  # not a code system, or not a code of the system


class CodeLookup(NamedTuple):
    """One code to check, and the day it is billed for (a charge's service date)."""

    system: str
    code: str
    on: date


class CodeCheck(Value):
    """Whether a code may be billed on a day, and a sentence saying so for the person who typed
    it, e.g. "HCPCS G9999 is not in the catalogue"."""

    system: str
    code: str = Field(description="Canonical when well formed, else as given")
    on: date
    status: CodeStatus
    entry: CatalogueCode | None = Field(
        None,
        description="The entry that decided: in effect (valid), the last that ended (expired), "
        "the first to come (not yet valid)",
    )
    message: str

    @property
    def is_valid(self) -> bool:
        return self.status is CodeStatus.VALID

    def require_valid(self, field: str) -> None:
        """Refuse the command that brought this code unless it is valid; ``field`` names where the
        code was given (``procedure.code``, ``diagnoses[1].code``), for the problem+json."""
        if not self.is_valid:
            raise RuleViolated(field, self.message)


def check_code(system: str, code: str, on: date, catalogue: Iterable[CatalogueCode]) -> CodeCheck:
    """How ``code`` stands on ``on``, given the catalogue's entries (those of other codes are
    ignored).

    A day between two periods of a code (retired, then reinstated) counts as expired: the code's
    last period before the day is what the person billing needs to hear about."""
    try:
        code_system = CodeSystem.named(system)
        canonical = code_system.canonical(code)
    except MalformedCode as error:
        return CodeCheck(
            system=system, code=code, on=on, status=CodeStatus.MALFORMED, message=str(error)
        )
    label = f"{code_system.name} {canonical}"
    periods = sorted(
        (e for e in catalogue if e.system == code_system.name and e.code == canonical),
        key=lambda e: e.valid_from,
    )

    def outcome(status: CodeStatus, entry: CatalogueCode | None, message: str) -> CodeCheck:
        return CodeCheck(
            system=code_system.name,
            code=canonical,
            on=on,
            status=status,
            entry=entry,
            message=message,
        )

    if not periods:
        return outcome(CodeStatus.UNKNOWN, None, f"{label} is not in the catalogue")
    in_effect = [e for e in periods if e.valid_on(on)]
    if in_effect:
        return outcome(CodeStatus.VALID, in_effect[-1], f"{label} is valid on {on}")
    ended = [e for e in periods if e.valid_to is not None and e.valid_to < on]
    if ended:
        last = max(ended, key=lambda e: e.valid_to or e.valid_from)
        return outcome(CodeStatus.EXPIRED, last, f"{label} expired on {last.valid_to}")
    first = periods[0]
    return outcome(
        CodeStatus.NOT_YET_VALID, first, f"{label} is not valid until {first.valid_from}"
    )
