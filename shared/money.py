"""Money as integer minor units plus an ISO 4217 currency code; never floats."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Minor-unit exponents of the currencies we bill in; a currency not listed is refused rather than
# guessed, because a wrong exponent silently multiplies every amount by ten or a hundred.
MINOR_UNITS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "CHF": 2, "MXN": 2,
    "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3,
}


def minor_unit_exponent(currency: str) -> int:
    """The currency's decimals; ValueError for a currency we do not bill in."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"{currency} is not a currency we bill in: its minor unit is unknown") from None


def format_minor_units(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` as a reader expects them, with thousands grouped and
    exactly the currency's decimals: 123456 USD is "1,234.56", 500 JPY is "500", -1250 USD is
    "-12.50". Integer arithmetic only, so no amount is ever rounded."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    decimals = f".{fraction:0{exponent}d}" if exponent else ""
    return f"{sign}{whole:,}{decimals}"

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]


class CurrencyMismatch(ValueError):
    pass


class Money(BaseModel):
    """An amount in minor units (cents) of one currency. Arithmetic never mixes currencies."""

    model_config = ConfigDict(frozen=True)

    amount: int = Field(description="Amount in minor units of the currency, e.g. cents")
    currency: CurrencyCode

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        if currency not in MINOR_UNITS:
            raise ValueError(f"{currency} is not a currency we bill in: its minor unit is unknown")
        return currency

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount=0, currency=currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def times(self, quantity: int) -> Money:
        return Money(amount=self.amount * quantity, currency=self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that sum exactly to this amount.

        Each part is its exact share rounded down or up: the cents left over after rounding down go
        to the parts with the largest fractions, ties to the earliest, so the split is deterministic
        (replays agree) and a part with no weight gets nothing."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        total = sum(weights)
        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        shares = [divmod(magnitude * w, total) for w in weights]  # (whole cents, fraction * total)
        parts = [whole for whole, _ in shares]
        largest_fractions_first = sorted(range(len(weights)), key=lambda i: -shares[i][1])
        for i in largest_fractions_first[: magnitude - sum(parts)]:
            parts[i] += 1
        return [Money(amount=sign * p, currency=self.currency) for p in parts]

    def format(self) -> str:
        exponent = MINOR_UNITS[self.currency]
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exponent)
        return f"{sign}{whole}.{frac:0{exponent}d} {self.currency}" if exponent else f"{sign}{whole} {self.currency}"
