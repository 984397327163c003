"""An 837P checked against the 005010X222A1 implementation guide with pyx12, before it is sent.

A clearinghouse runs the same checks and answers a failed one with a 999 rejecting the whole file,
hours later; here a problem is found while the claim is still ours to fix, as a ``ClaimProblem``
naming the segment, its position, its loop and pyx12's message. How pyx12 is run, and the gaps in
it that are filled (envelope checks, envelope element errors, loops, broken envelopes), are the
platform's: ``shared.x12.validation``.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.x12.validation import (
    Guide,
    InvalidX12Document,
    X12Problem,
    validate,
)

IMPLEMENTATION_GUIDE = "005010X222A1"
GUIDE_MAP = "837.5010.X222.A1.xml"  # pyx12's map of the guide
PROFESSIONAL_CLAIM = Guide(
    name="837P",
    transaction_set_id="837",
    version=IMPLEMENTATION_GUIDE,
    functional_id="HC",
    functional_meaning="health care claim",
    map_file=GUIDE_MAP,
)

# One thing wrong with an 837P.
ClaimProblem = X12Problem


class InvalidClaim(InvalidX12Document):
    """An 837P that a clearinghouse would reject; ``problems`` says why."""

    def __init__(self, problems: Sequence[ClaimProblem]) -> None:
        super().__init__("837P", problems)


def validate_837p(text: str) -> list[ClaimProblem]:
    """Every problem pyx12 finds in ``text`` against 005010X222A1; an empty list when it is a valid
    837P. A document that is not X12, or not an 837P, gets one problem per reason and is not
    validated further."""
    return validate(text, PROFESSIONAL_CLAIM)


def ensure_valid_837p(text: str) -> None:
    """Raise ``InvalidClaim`` with every problem when ``text`` is not a valid 837P."""
    problems = validate_837p(text)
    if problems:
        raise InvalidClaim(problems)
