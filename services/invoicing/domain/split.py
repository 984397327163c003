"""Who pays what of an encounter's charges: the verified coverages in coverage order, then the
customer, exact to the minor unit.

Each coverage is offered what is still unpaid on each line: the primary the line's amount, the
secondary what the primary leaves the member to pay, and so on; what the last coverage leaves the
member to pay is the customer's. A coverage pays what it was offered less what the member pays
under its cost share:

- The cost share of a line is the coverage's cost share for the line's service type, else its
  plan-level one (service type "30"); an in-network one before an out-of-network one. When there is
  none, or it says the type is not covered, the coverage pays nothing of the line and the whole
  amount offered moves on; such a line uses up none of that coverage's accumulators.
- The deductible comes first: ``min(deductible left, amount offered)``. What is left of it starts
  at the cost share's ``deductible_remaining`` (its ``deductible`` when the payer did not say how
  much is left, 0 when neither is known) and is used up, line after line in the order given, by
  every line whose cost share has the same ``deductible_scope`` and network.
- Then, on the rest, the copay when the cost share has one, otherwise the coinsurance (the rest x
  ``coinsurance_bp``, rounded half-up to the minor unit), otherwise nothing. A copay is per visit:
  it is owed once per encounter for each cost share (service type and network), paid by the first
  lines that use the cost share, each no more than what the deductible leaves of it. Lines of types
  without their own cost share fall back to the plan's, and so share the plan's copay.
- What the member owes is then capped at what is left of the out-of-pocket maximum (starting at
  ``out_of_pocket_remaining``, else ``out_of_pocket_max``, unbounded when neither is known), kept
  per ``out_of_pocket_scope`` and network like the deductible. The cap comes off the coinsurance
  first, then the copay, then the deductible: they are met in that order. The deductible and the
  copay are used up by what was applied even where the cap then waived it, as in estimates.
- Every coverage keeps its own accumulators: a secondary's deductible is not the primary's.

These are the rules eligibility's Good Faith Estimates use, so a bill agrees with its estimate,
with one difference in the customer's favour: an estimate asks a copay of every planned line, a
bill asks it once per visit. The customer's share says why it is owed (deductible, copay and
coinsurance under the last coverage that covered the line, or ``not_covered`` when none did).

Amounts are integer minor units of the encounter's currency; percentages are basis points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.invoicing.domain.events import CUSTOMER, Value

# X12 service type code for "Health Benefit Plan Coverage": the plan as a whole.
PLAN_LEVEL_SERVICE_TYPE = "30"
FULL_BP = 10_000


class ImplausibleCostShare(ValueError):
    """A cost share no bill can be split by: a negative amount, or coinsurance outside 0-100%."""


class CoverageCostShare(BaseModel):
    """What the member pays for one service type under one coverage, as eligibility recorded it in
    EligibilityVerified. Fields eligibility adds later are ignored; nonsense figures are refused
    when a line is split by them, not when the event is read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service_type: str
    in_network: bool = True
    copay: int | None = None
    coinsurance_bp: int | None = None
    deductible: int | None = None
    deductible_remaining: int | None = None
    out_of_pocket_max: int | None = None
    out_of_pocket_remaining: int | None = None
    covered: bool = True
    deductible_scope: str = Field(
        PLAN_LEVEL_SERVICE_TYPE,
        description="The service type whose deductible this is: the type's own, or the plan's",
    )
    out_of_pocket_scope: str = Field(
        PLAN_LEVEL_SERVICE_TYPE, description="Likewise for the out-of-pocket maximum"
    )


class VerifiedCoverage(Value):
    """A coverage that counts as verified for the date of service, with its cost shares."""

    coverage_id: str = Field(min_length=1)
    payer_id: str
    cost_shares: list[CoverageCostShare]

    @model_validator(mode="after")
    def _not_the_customer(self) -> VerifiedCoverage:
        if self.coverage_id == CUSTOMER:
            raise ValueError(f"{CUSTOMER!r} names the customer's share, not a coverage")
        return self


class ChargeLine(Value):
    """One line of an encounter: its units already multiplied by the unit price."""

    line_id: str = Field(min_length=1)
    amount: int = Field(ge=0, description="Minor units")
    service_type: str = Field(
        PLAN_LEVEL_SERVICE_TYPE, description="X12 service type whose cost share applies"
    )


class Share(Value):
    """What one party is billed for one line. Only the customer's share has components: they say
    why the customer owes it, and add up to it."""

    party: str = Field(description=f"A coverage id, or {CUSTOMER!r}")
    amount: int = Field(ge=0)
    deductible: int = Field(0, ge=0)
    copay: int = Field(0, ge=0)
    coinsurance: int = Field(0, ge=0)
    not_covered: int = Field(0, ge=0, description="No coverage covered it")

    @model_validator(mode="after")
    def _components_explain_the_customer_share(self) -> Share:
        components = self.deductible + self.copay + self.coinsurance + self.not_covered
        if self.party == CUSTOMER and components != self.amount:
            raise ValueError(f"the customer's components add up to {components}, not {self.amount}")
        if self.party != CUSTOMER and components:
            raise ValueError(
                f"{self.party} is a coverage; only the customer's share has components"
            )
        return self


class LineSplit(Value):
    """One line's amount split between every party asked: coverages in order, the customer last.
    A coverage that pays nothing of the line is there with 0."""

    line_id: str
    amount: int = Field(ge=0)
    shares: list[Share]

    @model_validator(mode="after")
    def _shares_make_the_amount(self) -> LineSplit:
        parties = [share.party for share in self.shares]
        if not parties or parties[-1] != CUSTOMER or parties.count(CUSTOMER) != 1:
            raise ValueError(f"line {self.line_id}: the customer's share must come last, once")
        if len(set(parties)) != len(parties):
            raise ValueError(f"line {self.line_id}: a party is named twice")
        billed = sum(share.amount for share in self.shares)
        if billed != self.amount:
            raise ValueError(f"line {self.line_id}: shares add up to {billed}, not {self.amount}")
        return self

    def share_of(self, party: str) -> Share | None:
        return next((share for share in self.shares if share.party == party), None)


class EncounterSplit(Value):
    """Every line of an encounter split between the same parties, in the same order."""

    lines: list[LineSplit]

    @model_validator(mode="after")
    def _same_parties_on_every_line(self) -> EncounterSplit:
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError("a line id is used twice")
        parties = self.parties()
        for line in self.lines:
            if [share.party for share in line.shares] != parties:
                raise ValueError(f"line {line.line_id} is not split between {parties}")
        return self

    def parties(self) -> list[str]:
        """Coverages in coverage order, then the customer; none for an encounter with no lines."""
        return [share.party for share in self.lines[0].shares] if self.lines else []

    def total_for(self, party: str) -> int:
        """What ``party`` is billed for the whole encounter; 0 for a party that was not asked."""
        return sum(
            share.amount for line in self.lines for share in line.shares if share.party == party
        )

    def totals(self) -> dict[str, int]:
        """Party -> what it is billed for the encounter, for every party asked, in order."""
        return {party: self.total_for(party) for party in self.parties()}


def split_encounter(
    lines: Sequence[ChargeLine], coverages: Sequence[VerifiedCoverage]
) -> EncounterSplit:
    """Split ``lines`` between ``coverages`` (primary first) and the customer, by the rules of
    this module. Lines are taken in the order given: earlier lines use up deductibles, copays and
    out-of-pocket maximums first.

    Raises ``ValueError`` when two lines or two coverages share an id, ``ImplausibleCostShare``
    when a line meets a cost share with a negative amount or coinsurance outside 0-100%.
    """
    _refuse_repeated("line", [line.line_id for line in lines])
    _refuse_repeated("coverage", [coverage.coverage_id for coverage in coverages])
    running = [_Accumulators() for _ in coverages]
    split_lines: list[LineSplit] = []
    for line in lines:
        member = _MemberOwes(not_covered=line.amount)  # nothing has covered it yet
        shares: list[Share] = []
        for coverage, accumulators in zip(coverages, running, strict=True):
            cost_share = _cost_share_for(coverage, line.service_type)
            if cost_share is None or not cost_share.covered:
                shares.append(Share(party=coverage.coverage_id, amount=0))
                continue
            offered = member.total
            member = accumulators.member_owes(offered, cost_share)
            shares.append(Share(party=coverage.coverage_id, amount=offered - member.total))
        shares.append(
            Share(
                party=CUSTOMER,
                amount=member.total,
                deductible=member.deductible,
                copay=member.copay,
                coinsurance=member.coinsurance,
                not_covered=member.not_covered,
            )
        )
        split_lines.append(LineSplit(line_id=line.line_id, amount=line.amount, shares=shares))
    return EncounterSplit(lines=split_lines)


def _refuse_repeated(what: str, ids: list[str]) -> None:
    repeated = sorted({one for one in ids if ids.count(one) > 1})
    if repeated:
        raise ValueError(f"{what} ids used more than once: {', '.join(repeated)}")


def _cost_share_for(coverage: VerifiedCoverage, service_type: str) -> CoverageCostShare | None:
    for wanted in (service_type, PLAN_LEVEL_SERVICE_TYPE):
        stated = [share for share in coverage.cost_shares if share.service_type == wanted]
        if stated:
            return min(stated, key=lambda share: not share.in_network)  # in network, else first
    return None


def _percent_half_up(amount: int, bp: int) -> int:
    """``bp`` basis points of a non-negative ``amount``, rounded half-up to the minor unit."""
    return (amount * bp + FULL_BP // 2) // FULL_BP


@dataclass(frozen=True)
class _MemberOwes:
    """What the member owes of an amount offered to a coverage, and why."""

    deductible: int = 0
    copay: int = 0
    coinsurance: int = 0
    not_covered: int = 0

    @property
    def total(self) -> int:
        return self.deductible + self.copay + self.coinsurance + self.not_covered


Scope = tuple[str, bool]  # (service type the figure was stated for, in network)


@dataclass
class _Accumulators:
    """What is left, within the encounter, of one coverage's deductibles, copays and out-of-pocket
    maximums as its lines use them up."""

    deductibles: dict[Scope, int] = field(default_factory=dict)
    copays: dict[Scope, int] = field(default_factory=dict)
    # None: no maximum known, what the member owes is not capped
    out_of_pocket: dict[Scope, int | None] = field(default_factory=dict)

    def member_owes(self, offered: int, share: CoverageCostShare) -> _MemberOwes:
        _refuse_implausible(share)
        deductible_scope = (share.deductible_scope, share.in_network)
        if deductible_scope not in self.deductibles:
            starting = share.deductible_remaining
            self.deductibles[deductible_scope] = (
                starting if starting is not None else share.deductible
            ) or 0
        deductible = min(self.deductibles[deductible_scope], offered)
        rest = offered - deductible
        copay = coinsurance = 0
        if share.copay is not None:
            visit = (share.service_type, share.in_network)
            copay = min(self.copays.setdefault(visit, share.copay), rest)
            self.copays[visit] -= copay
        elif share.coinsurance_bp is not None:
            coinsurance = _percent_half_up(rest, share.coinsurance_bp)
        self.deductibles[deductible_scope] -= deductible

        out_of_pocket_scope = (share.out_of_pocket_scope, share.in_network)
        if out_of_pocket_scope not in self.out_of_pocket:
            starting = share.out_of_pocket_remaining
            self.out_of_pocket[out_of_pocket_scope] = (
                starting if starting is not None else share.out_of_pocket_max
            )
        left = self.out_of_pocket[out_of_pocket_scope]
        owed = deductible + copay + coinsurance
        if left is None:
            return _MemberOwes(deductible=deductible, copay=copay, coinsurance=coinsurance)
        paid = min(owed, left)
        self.out_of_pocket[out_of_pocket_scope] = left - paid
        # The maximum is met in the order the amounts were applied, so a cap takes the
        # coinsurance first, then the copay, then the deductible.
        deductible_paid = min(deductible, paid)
        copay_paid = min(copay, paid - deductible_paid)
        return _MemberOwes(
            deductible=deductible_paid,
            copay=copay_paid,
            coinsurance=paid - deductible_paid - copay_paid,
        )


def _refuse_implausible(share: CoverageCostShare) -> None:
    amounts = {
        "copay": share.copay,
        "deductible": share.deductible,
        "deductible_remaining": share.deductible_remaining,
        "out_of_pocket_max": share.out_of_pocket_max,
        "out_of_pocket_remaining": share.out_of_pocket_remaining,
    }
    negative = [name for name, amount in amounts.items() if amount is not None and amount < 0]
    if negative:
        raise ImplausibleCostShare(
            f"service type {share.service_type}: negative {', '.join(negative)}"
        )
    if share.coinsurance_bp is not None and not 0 <= share.coinsurance_bp <= FULL_BP:
        raise ImplausibleCostShare(
            f"service type {share.service_type}: coinsurance of {share.coinsurance_bp} basis points"
        )
