"""The eligibility gateway over X12: 270 out, 271 back, through a clearinghouse's HTTP endpoint."""

from __future__ import annotations

from services.eligibility.adapters.clearinghouse import HttpClearinghouse
from services.eligibility.adapters.clearinghouse import PayerRefused as HttpRefused
from services.eligibility.adapters.clearinghouse import PayerUnreachable as HttpUnreachable
from services.eligibility.adapters.x12_270 import build_270
from services.eligibility.adapters.x12_271 import Malformed271, parse_271
from services.eligibility.application.verifier import (
    MalformedAnswer,
    PayerRefused,
    PayerUnreachable,
    UnsendableInquiry,
)
from services.eligibility.domain.coverage import EligibilityInquiry, EligibilityResponse
from shared.clock import Clock


class X12Gateway:
    def __init__(self, clearinghouse: HttpClearinghouse, clock: Clock) -> None:
        self.clearinghouse = clearinghouse
        self.clock = clock

    def render_inquiry(self, inquiry: EligibilityInquiry) -> str:
        try:
            return build_270(inquiry, created_at=self.clock.now())
        except ValueError as error:
            raise UnsendableInquiry(str(error)) from error

    async def send(self, endpoint: str, document: str, *, timeout: float) -> str:
        try:
            return await self.clearinghouse.exchange(endpoint, document, timeout=timeout)
        except HttpUnreachable as error:
            raise PayerUnreachable(str(error)) from error
        except HttpRefused as error:
            raise PayerRefused(str(error)) from error

    def read_answer(self, document: str) -> EligibilityResponse:
        try:
            return parse_271(document)
        except Malformed271 as error:
            raise MalformedAnswer(str(error)) from error

    async def aclose(self) -> None:
        await self.clearinghouse.aclose()
