"""What a member pays for one service type, read from the benefits (EB loops) of a 271.

Payers state cost sharing at two levels: for the plan as a whole (service type 30) and for
particular service types (98 physician office visit, UC urgent care, ...). A figure stated for the
service type wins; anything it does not state falls back to the plan's, figure by figure, because
payers commonly send a type's copay while its deductible is the plan's. Within a level, a figure
for the network asked about wins over one that names no network, and the member's own (IND)
accumulator over the family's (FAM): the individual one is reached first, so it decides what the
member owes on the next claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter

from services.eligibility.domain.coverage import (
    PLAN_LEVEL_SERVICE_TYPE,
    Benefit,
    BenefitKind,
    CostShare,
    TimePeriod,
)

_ACTIVE = frozenset({BenefitKind.ACTIVE, BenefitKind.ACTIVE_FULL_RISK_CAPITATION})
_ANY_PERIOD: frozenset[TimePeriod | None] = frozenset({*TimePeriod, None})
# An accumulator's total for the benefit period; REMAINING is what is left of it.
_BENEFIT_PERIOD: frozenset[TimePeriod | None] = frozenset(
    {TimePeriod.CALENDAR_YEAR, TimePeriod.SERVICE_YEAR, TimePeriod.CONTRACT}
)
_REMAINING: frozenset[TimePeriod | None] = frozenset({TimePeriod.REMAINING})
_PER_VISIT: frozenset[TimePeriod | None] = frozenset({TimePeriod.VISIT, None})

_amount: Callable[[Benefit], int | None] = attrgetter("amount")
_percent: Callable[[Benefit], int | None] = attrgetter("percent_bp")


def cost_share(
    benefits: Sequence[Benefit], service_type: str, *, in_network: bool = True
) -> CostShare | None:
    """The member's cost share for ``service_type`` in the network asked about, or None when the
    benefits say nothing about active coverage for it or for the plan.

    A service type the payer declares not covered (EB01 I) gets ``covered=False`` and no figures:
    the member pays the whole charge, whatever the plan's copays say."""
    if not any(
        b.kind in _ACTIVE and (_states_type(b, service_type) or _states_plan(b)) for b in benefits
    ):
        return None
    in_asked_network = [b for b in benefits if b.in_network in (in_network, None)]
    if any(
        b.kind is BenefitKind.NON_COVERED and _states_type(b, service_type)
        for b in in_asked_network
    ):
        return CostShare(service_type=service_type, in_network=in_network, covered=False)

    def figure(
        kind: BenefitKind,
        value: Callable[[Benefit], int | None],
        periods: frozenset[TimePeriod | None],
        preferred_periods: frozenset[TimePeriod | None] = _ANY_PERIOD,
    ) -> int | None:
        return _figure(in_asked_network, service_type, kind, value, periods, preferred_periods)

    def scope(kind: BenefitKind) -> str:
        """Whose accumulator the figures are: the type's own when the payer stated them for it."""
        states_own = any(b.kind is kind and _states_type(b, service_type) for b in in_asked_network)
        return service_type if states_own else PLAN_LEVEL_SERVICE_TYPE

    return CostShare(
        service_type=service_type,
        in_network=in_network,
        deductible_scope=scope(BenefitKind.DEDUCTIBLE),
        out_of_pocket_scope=scope(BenefitKind.OUT_OF_POCKET),
        copay=figure(BenefitKind.COPAY, _amount, _ANY_PERIOD, preferred_periods=_PER_VISIT),
        coinsurance_bp=figure(BenefitKind.COINSURANCE, _percent, _ANY_PERIOD),
        deductible=figure(BenefitKind.DEDUCTIBLE, _amount, _BENEFIT_PERIOD),
        deductible_remaining=figure(BenefitKind.DEDUCTIBLE, _amount, _REMAINING),
        out_of_pocket_max=figure(BenefitKind.OUT_OF_POCKET, _amount, _BENEFIT_PERIOD),
        out_of_pocket_remaining=figure(BenefitKind.OUT_OF_POCKET, _amount, _REMAINING),
    )


def _states_type(benefit: Benefit, service_type: str) -> bool:
    return service_type in benefit.service_types


def _states_plan(benefit: Benefit) -> bool:
    # An EB naming no service type (and no single procedure) speaks for the whole plan.
    if not benefit.service_types:
        return benefit.procedure_code is None
    return PLAN_LEVEL_SERVICE_TYPE in benefit.service_types


def _figure(
    benefits: Sequence[Benefit],
    service_type: str,
    kind: BenefitKind,
    value: Callable[[Benefit], int | None],
    periods: frozenset[TimePeriod | None],
    preferred_periods: frozenset[TimePeriod | None],
) -> int | None:
    """The value of the best benefit of ``kind`` within ``periods``: the service type's own, else
    the plan's; among those, the asked network before "any network", a preferred period, then IND
    before other levels before FAM."""
    for stated in (lambda b: _states_type(b, service_type), _states_plan):
        candidates = [
            b
            for b in benefits
            if b.kind is kind and stated(b) and b.time_period in periods and value(b) is not None
        ]
        if candidates:
            best = min(
                candidates,
                key=lambda b: (
                    b.in_network is None,
                    b.time_period not in preferred_periods,
                    _coverage_level_rank(b.coverage_level),
                ),
            )
            return value(best)
    return None


def _coverage_level_rank(level: str | None) -> int:
    """IND first, FAM last, anything else (EMP, ESP, unstated, ...) between."""
    return {"IND": 0, "FAM": 2}.get(level or "", 1)
