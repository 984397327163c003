"""Money: integer minor units of one currency; arithmetic never mixes currencies or loses a cent."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.money import CurrencyMismatch, Money


def usd(cents: int) -> Money:
    return Money(amount=cents, currency="USD")


def test_amounts_of_one_currency_add_subtract_and_compare() -> None:
    assert usd(1_050) + usd(250) == usd(1_300)
    assert usd(1_050) - usd(2_000) == usd(-950)
    assert -usd(300) == usd(-300)
    assert usd(300).times(3) == usd(900)
    assert usd(100) < usd(101) <= usd(101)
    assert usd(101) > usd(100) and usd(100) >= usd(100)
    assert Money.zero("JPY") == Money(amount=0, currency="JPY")


@pytest.mark.parametrize(
    "combine", [operator.add, operator.sub, operator.lt, operator.le, operator.gt, operator.ge]
)
def test_amounts_of_different_currencies_never_combine(combine) -> None:  # noqa: ANN001
    with pytest.raises(CurrencyMismatch, match="USD with EUR|EUR with USD"):
        combine(usd(100), Money(amount=100, currency="EUR"))


def test_the_same_amount_in_another_currency_is_not_equal() -> None:
    assert usd(100) != Money(amount=100, currency="CAD")


def test_money_is_an_immutable_value() -> None:
    amount = usd(100)

    with pytest.raises(ValidationError):
        amount.amount = 200  # type: ignore[misc]


@pytest.mark.parametrize("currency", ["usd", "US", "US$", "XYZ"])
def test_a_currency_that_is_not_a_known_iso_4217_code_is_refused(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=100, currency=currency)


def test_an_amount_is_whole_minor_units_never_a_fraction() -> None:
    with pytest.raises(ValidationError):
        Money(amount=10.5, currency="USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (usd(123_456), "1234.56 USD"),
        (usd(5), "0.05 USD"),
        (usd(-1_999), "-19.99 USD"),
        (Money(amount=-500, currency="JPY"), "-500 JPY"),
        (Money(amount=1_234, currency="KWD"), "1.234 KWD"),
    ],
)
def test_format_uses_the_currency_exponent_and_keeps_the_sign(money: Money, shown: str) -> None:
    assert money.format() == shown


def test_allocation_gives_leftover_cents_to_the_largest_fractions_then_the_earliest_parts() -> None:
    assert usd(100).allocate([1, 1, 1]) == [usd(34), usd(33), usd(33)]
    assert usd(-100).allocate([1, 1, 1]) == [usd(-34), usd(-33), usd(-33)]
    assert usd(5).allocate([70, 30]) == [usd(4), usd(1)]
    assert usd(10).allocate([1, 2, 4]) == [usd(1), usd(3), usd(6)]  # 1.43, 2.86, 5.71


def test_a_part_whose_share_is_exact_gets_no_leftover_cent() -> None:
    assert usd(12_857).allocate([4_000, 1, 21_999]) == [usd(1_978), usd(0), usd(10_879)]


def test_a_part_with_zero_weight_gets_nothing_not_even_a_remainder_cent() -> None:
    """An insurer whose share is zero must not be billed a stray cent."""
    assert usd(101).allocate([0, 1, 1]) == [usd(0), usd(51), usd(50)]
    assert usd(-1).allocate([0, 0, 5]) == [usd(0), usd(0), usd(-1)]


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocation_refuses_weights_that_define_no_split(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="weights"):
        usd(100).allocate(weights)


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
        any
    ),
)
def test_allocation_sums_exactly_and_each_part_is_within_a_cent_of_its_share(
    amount: int, weights: list[int]
) -> None:
    parts = usd(amount).allocate(weights)

    assert sum(p.amount for p in parts) == amount
    assert all(p.currency == "USD" for p in parts)
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part.amount * total - amount * weight) < total  # |part - exact share| < 1 cent
        assert part.amount * amount >= 0  # no part has the opposite sign of the whole
        if weight == 0:
            assert part.amount == 0
