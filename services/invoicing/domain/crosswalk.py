"""Payer crosswalks: which of a payer's codes a charge is billed under.

We record a charge under our own code (a CPT code, a HCPCS code, a tariff item); a payer may bill
in another code system or want a different code or extra modifiers for the same service. A
payer's crosswalk maps our codes to its codes, and changes over time, so it is published in
numbered versions, each effective for a range of dates. A bill takes the payer's code from the
version in effect on the service date, whenever the bill is made: a charge from March is billed
under March's mapping even when it is billed in May.

Modifiers: the payer's modifiers of an entry are added to the charge's, in front of them. The
charge's modifiers are facts of the service (25 a separate E/M, LT the left side, 59 a distinct
procedure) that the payer still needs to see; the payer's are what it requires for the code
(a program modifier such as U1, a telehealth 95) and payers expect those first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from services.invoicing.domain.codes import (
    CPT,
    HCPCS,
    MAX_MODIFIERS,
    CodeKey,
    CodeKind,
    CodeRef,
    CodeSystem,
    canonical_modifiers,
)
from services.invoicing.domain.events import Value
from shared.rules import RuleViolated


class CrosswalkEntry(Value):
    """One of our codes and the payer's code (and modifiers) it is billed under."""

    internal: CodeKey = Field(description="Our code, as charges name it")
    payer_system: str = Field(description="The payer's code system, e.g. HCPCS")
    payer_code: str
    modifiers: list[str] = Field(default=[], description="The payer's, put before the charge's")

    @model_validator(mode="before")
    @classmethod
    def _from_flat_form(cls, value: Any) -> Any:
        # Events and the crosswalks read model keep entries flat: system, code, payer_system, ...
        if isinstance(value, dict) and "internal" not in value and "system" in value:
            value = dict(value)
            value["internal"] = {"system": value.pop("system"), "code": value.pop("code", None)}
        return value

    @field_validator("payer_system")
    @classmethod
    def _payer_system_bills_services(cls, payer_system: str) -> str:
        if CodeSystem.named(payer_system).kind is not CodeKind.SERVICE:
            raise ValueError(f"{payer_system} codes are diagnoses; a crosswalk maps services")
        return payer_system

    @field_validator("payer_code")
    @classmethod
    def _payer_code_of_its_system(cls, payer_code: str, info: ValidationInfo) -> str:
        payer_system = info.data.get("payer_system")
        return CodeSystem.named(payer_system).canonical(payer_code) if payer_system else payer_code

    _modifiers = field_validator("modifiers")(canonical_modifiers)

    @model_validator(mode="after")
    def _internal_is_a_service(self) -> CrosswalkEntry:
        if CodeSystem.named(self.internal.system).kind is not CodeKind.SERVICE:
            raise ValueError(
                f"{self.internal.system} codes are diagnoses; a crosswalk maps services"
            )
        return self

    @property
    def payer_label(self) -> str:
        return f"{self.payer_system} {self.payer_code}"


class CrosswalkVersion(Value):
    """One published version of a payer's crosswalk. Where versions' dates overlap, the highest
    version number decides."""

    payer_id: str = Field(min_length=1)
    version: int = Field(ge=1)
    effective_from: date
    effective_to: date | None = Field(None, description="The last day it governs; None: open")
    entries: list[CrosswalkEntry] = Field(default=[])

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def entry_for(self, code: CodeKey) -> CrosswalkEntry | None:
        return next((entry for entry in self.entries if entry.internal == code), None)


class BilledCode(Value):
    """The code a payer is billed under for a charge, and how it was arrived at."""

    system: str
    code: str
    modifiers: list[str] = Field(default=[])
    charged: CodeRef = Field(description="The charge's own code")
    crosswalk_version: int | None = Field(
        None, description="The crosswalk version that mapped it; None when billed as charged"
    )

    @property
    def ref(self) -> CodeRef:
        return CodeRef(system=self.system, code=self.code, modifiers=self.modifiers)


class MissingMapping(Value):
    """A charge's code cannot be billed to the payer as it stands; ``reason`` says what to fix."""

    charged: CodeRef
    payer_id: str | None
    payer_code_system: str
    service_date: date
    crosswalk_version: int | None = Field(None, description="The version in effect, if any")
    reason: str


def bills_as_is(system: str, payer_code_system: str) -> bool:
    """Whether a code of ``system`` is one of the payer's own: its system, or CPT for a payer
    billing in HCPCS, since CPT is HCPCS Level I (837P SV101-1 qualifier HC carries both)."""
    return system == payer_code_system or (system == CPT and payer_code_system == HCPCS)


def version_in_effect(
    versions: Sequence[CrosswalkVersion], service_date: date
) -> CrosswalkVersion | None:
    """The highest version whose effective dates include ``service_date``."""
    covering = [version for version in versions if version.covers(service_date)]
    return max(covering, key=lambda version: version.version, default=None)


def resolve(
    code: CodeRef,
    payer_code_system: str,
    versions: Sequence[CrosswalkVersion],
    service_date: date,
    *,
    payer_id: str | None = None,
) -> BilledCode | MissingMapping:
    """The payer's code for ``code`` on ``service_date``, from one payer's crosswalk ``versions``.

    The version in effect that day decides: its entry for the code maps it. With no entry (or no
    version in effect), a code already in the payer's code system is billed as charged; any other
    code is a MissingMapping, since a payer cannot be sent codes of a system it does not read."""
    payer_ids = {version.payer_id for version in versions}
    if len(payer_ids) > 1:
        raise ValueError(f"crosswalk versions of several payers: {', '.join(sorted(payer_ids))}")
    payer_id = payer_id or next(iter(payer_ids), None)
    version = version_in_effect(versions, service_date)

    def missing(reason: str) -> MissingMapping:
        return MissingMapping(
            charged=code,
            payer_id=payer_id,
            payer_code_system=payer_code_system,
            service_date=service_date,
            crosswalk_version=version.version if version else None,
            reason=reason,
        )

    if version is not None and (entry := version.entry_for(code.key)) is not None:
        if entry.payer_system != payer_code_system:
            return missing(
                f"crosswalk version {version.version} of {payer_id} maps {code.key.label} to "
                f"{entry.payer_label}, but {payer_id} bills in {payer_code_system}"
            )
        modifiers = [*entry.modifiers, *(m for m in code.modifiers if m not in entry.modifiers)]
        if len(modifiers) > MAX_MODIFIERS:
            return missing(
                f"{code.label} billed as {entry.payer_label} needs modifiers "
                f"{', '.join(modifiers)}: more than the {MAX_MODIFIERS} a claim line holds"
            )
        return BilledCode(
            system=entry.payer_system,
            code=entry.payer_code,
            modifiers=modifiers,
            charged=code,
            crosswalk_version=version.version,
        )
    if bills_as_is(code.system, payer_code_system):
        return BilledCode(
            system=code.system, code=code.code, modifiers=code.modifiers, charged=code
        )
    if version is None:
        whose = f"{payer_id}'s crosswalk" if payer_id else "a crosswalk"
        return missing(
            f"{code.key.label} needs {whose} to {payer_code_system}, and no version of it is in "
            f"effect on {service_date}"
        )
    return missing(
        f"no crosswalk entry maps {code.key.label} to {payer_id}'s {payer_code_system} codes for "
        f"{service_date} (crosswalk version {version.version})"
    )


def check_publishable(
    candidate: CrosswalkVersion,
    published: Sequence[CrosswalkVersion],
    payer_code_system: str,
) -> None:
    """Refuse a new version of a payer's crosswalk that could not be applied unambiguously.

    Versions are numbered 1, 2, 3... and take effect in order (a version may start on the same
    day as the one before it, to correct it, but not earlier); every entry maps to the payer's
    code system, and no code is mapped twice."""
    payer = candidate.payer_id
    others = sorted(
        (version for version in published if version.payer_id == payer),
        key=lambda version: version.version,
    )
    expected = others[-1].version + 1 if others else 1
    if candidate.version != expected:
        raise RuleViolated(
            "version",
            f"the next version of {payer}'s crosswalk is {expected}, not {candidate.version}",
        )
    if candidate.effective_to is not None and candidate.effective_to < candidate.effective_from:
        raise RuleViolated(
            "effective_to",
            f"effective_to {candidate.effective_to} is before effective_from "
            f"{candidate.effective_from}",
        )
    if others and candidate.effective_from < others[-1].effective_from:
        raise RuleViolated(
            "effective_from",
            f"version {candidate.version} would take effect on {candidate.effective_from}, before "
            f"version {others[-1].version} (from {others[-1].effective_from}); versions take "
            "effect in order",
        )
    first_mapped: dict[CodeKey, int] = {}
    for position, entry in enumerate(candidate.entries):
        if entry.payer_system != payer_code_system:
            raise RuleViolated(
                f"entries[{position}].payer_system",
                f"{payer} bills in {payer_code_system}, not {entry.payer_system}",
            )
        earlier = first_mapped.get(entry.internal)
        if earlier is not None:
            raise RuleViolated(
                f"entries[{position}].internal",
                f"{entry.internal.label} is already mapped by entries[{earlier}]",
            )
        first_mapped[entry.internal] = position
