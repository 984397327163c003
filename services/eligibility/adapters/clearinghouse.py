"""The outbound HTTP leg to a clearinghouse: POST an X12 270, read the X12 271 it answers.

Failures are sorted by what the caller should do next. ``PayerUnreachable`` (no connection, no
answer in time, 5xx, 429 Too Many Requests) is worth trying again later; ``PayerRefused`` (any other
non-2xx answer) is the clearinghouse saying the request itself is wrong, and sending the same
document again gets the same answer.
"""

from __future__ import annotations

import httpx

X12_MEDIA_TYPE = "application/edi-x12"
# How much of an error answer's body goes into the exception message (and from there into logs
# and the check's failure reason): enough to read the clearinghouse's reason, not a whole page.
_REASON_CHARACTERS = 200


class PayerUnreachable(Exception):
    """No usable answer this time: connection failed, timed out, or the clearinghouse is failing."""


class PayerRefused(Exception):
    """The clearinghouse refused the request (a 4xx other than 429): retrying will not help."""


class HttpClearinghouse:
    """Exchanges documents with clearinghouses over HTTP(S), reusing connections between calls.

    One ``httpx.AsyncClient`` serves every endpoint; close it with ``aclose()`` at shutdown."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(headers={"Accept": X12_MEDIA_TYPE})

    async def exchange(self, endpoint: str, document: str, *, timeout: float) -> str:
        """POST ``document`` to ``endpoint`` and return the answer's text; ``timeout`` seconds
        apply to each of connecting, sending and reading."""
        try:
            response = await self._client.post(
                endpoint,
                content=document.encode(),
                headers={"Content-Type": X12_MEDIA_TYPE},
                timeout=httpx.Timeout(timeout),
            )
        except httpx.TimeoutException as error:
            raise PayerUnreachable(
                f"{endpoint}: no answer within {timeout}s ({type(error).__name__})"
            ) from error
        except httpx.TransportError as error:
            raise PayerUnreachable(
                f"{endpoint}: cannot connect or read ({type(error).__name__}: {error})"
            ) from error
        if response.is_success:
            return response.text
        excerpt = response.text[:_REASON_CHARACTERS].strip()
        reason = f"{endpoint}: HTTP {response.status_code} {excerpt}".rstrip()
        if response.status_code >= 500 or response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            raise PayerUnreachable(reason)
        raise PayerRefused(reason)

    async def aclose(self) -> None:
        await self._client.aclose()
