"""Sending 837P claims to a payer's clearinghouse over HTTP and reading its answer, an X12 999
implementation acknowledgment (005010X231A1): accepted, or rejected with the segments and elements
it found wrong.

Failures are sorted by what the caller should do next: ``ClearinghouseUnreachable`` (no connection,
no answer in time, 5xx, 429) is worth trying again later; ``ClearinghouseRefused`` (another non-2xx
answer, or an answer that is not a 999) will not change by sending the same claim again."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from shared.x12 import X12SyntaxError, parse_interchange

X12_MEDIA_TYPE = "application/edi-x12"
_REASON_CHARACTERS = 200
# AK9-01 / IK5-01: A accepted, E accepted with errors noted, P partially accepted, R rejected
_ACCEPTED = frozenset({"A", "E"})


class ClearinghouseUnreachable(Exception):
    pass


class ClearinghouseRefused(Exception):
    pass


@dataclass(frozen=True)
class Acknowledgment:
    accepted: bool
    control_number: str  # the 999's ISA13
    errors: list[str]  # what the clearinghouse found wrong, as people read it


def read_999(text: str) -> Acknowledgment:
    """The verdict of a 999 on one claim's interchange. Raises ``ClearinghouseRefused`` when the
    answer is not a 999."""
    try:
        interchange = parse_interchange(text)
    except X12SyntaxError as error:
        raise ClearinghouseRefused(f"the acknowledgment is not valid X12: {error}") from None
    sets = [t for g in interchange.groups for t in g.transaction_sets]
    if not sets or any(t.id != "999" for t in sets):
        raise ClearinghouseRefused("the clearinghouse answered with something other than a 999")
    verdicts, errors = [], []
    for transaction in sets:
        segment_error = ""
        for segment in transaction.body:
            if segment.id == "IK3":
                segment_error = (f"{segment.element(1)} at segment {segment.element(2)} in loop "
                                 f"{segment.element(3)} (IK3 code {segment.element(4)})")
            elif segment.id == "IK4":
                errors.append(f"{segment_error}: element {segment.element(1)} "
                              f"(IK4 code {segment.element(3)}, value {segment.element(4)!r})")
                segment_error = ""
            elif segment.id == "IK5" and segment_error:
                errors.append(segment_error)
                segment_error = ""
            elif segment.id == "AK9":
                verdicts.append(segment.element(1))
    if not verdicts:
        raise ClearinghouseRefused("the 999 has no AK9 verdict")
    accepted = all(verdict in _ACCEPTED for verdict in verdicts)
    if not accepted and not errors:
        errors.append(f"rejected (AK9 {', '.join(verdicts)})")
    return Acknowledgment(accepted=accepted, control_number=interchange.header.element(13), errors=errors)


class HttpClaimSubmitter:
    """POSTs claims to clearinghouses, reusing connections; close it with ``aclose()``."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(headers={"Accept": X12_MEDIA_TYPE})

    async def submit(self, endpoint: str, claim: str, *, timeout: float) -> Acknowledgment:
        try:
            response = await self._client.post(
                endpoint, content=claim.encode(), headers={"Content-Type": X12_MEDIA_TYPE},
                timeout=httpx.Timeout(timeout),
            )
        except httpx.TimeoutException as error:
            raise ClearinghouseUnreachable(f"{endpoint}: no answer within {timeout}s") from error
        except httpx.TransportError as error:
            raise ClearinghouseUnreachable(
                f"{endpoint}: cannot connect or read ({type(error).__name__}: {error})"
            ) from error
        if response.is_success:
            return read_999(response.text)
        reason = f"{endpoint}: HTTP {response.status_code} {response.text[:_REASON_CHARACTERS].strip()}".rstrip()
        if response.status_code >= 500 or response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            raise ClearinghouseUnreachable(reason)
        raise ClearinghouseRefused(reason)

    async def aclose(self) -> None:
        await self._client.aclose()
