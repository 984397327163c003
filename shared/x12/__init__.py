"""ASC X12 5010 for every service that trades documents with payers and clearinghouses.

Only the generic layer lives here: separators, segments, the ISA/GS/ST envelopes and X12's value
formats. What a transaction set means (270/271 for eligibility, 837P for invoicing, 835 for
payments) belongs to the service that uses it, built on these pieces.
"""

from shared.x12.segments import (
    STANDARD_SEPARATORS,
    Composite,
    FunctionalGroup,
    Interchange,
    Repeated,
    Segment,
    Separators,
    TransactionSet,
    X12SyntaxError,
    format_date,
    format_decimal,
    parse_date,
    parse_date_range,
    parse_decimal,
    parse_interchange,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)

__all__ = [
    "STANDARD_SEPARATORS",
    "Composite",
    "FunctionalGroup",
    "Interchange",
    "Repeated",
    "Segment",
    "Separators",
    "TransactionSet",
    "X12SyntaxError",
    "format_date",
    "format_decimal",
    "parse_date",
    "parse_date_range",
    "parse_decimal",
    "parse_interchange",
    "render",
    "wrap_functional_group",
    "wrap_interchange",
    "wrap_transaction_set",
]
