"""Gateway notification signatures: a signature made with the shared secret is taken; a wrong
secret, a changed body, a missing or malformed header and a timestamp beyond the tolerance are each
refused saying why; while a secret rotates, either of two secrets and either of two digests will
do."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.payments.adapters.gateway_signature import (
    SIGNATURE_HEADER,
    SignatureRefused,
    sign,
    verify,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STAMP = int(NOW.timestamp())
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
TOLERANCE = 300.0
BODY = b'{"id":"evt_1","type":"payment.succeeded","data":{"payment_reference":"ch_1","amount":1000}}'


def digest_of(header: str) -> str:
    return re.fullmatch(r"t=\d+,v1=([0-9a-f]{64})", header).group(1)  # type: ignore[union-attr]


def test_a_signature_made_with_the_secret_is_taken_and_gives_its_timestamp() -> None:
    header = sign(SECRET, STAMP, BODY)
    assert header.startswith(f"t={STAMP},v1=")
    assert verify(header, BODY, [SECRET], NOW, TOLERANCE) == STAMP


def test_a_signature_within_the_tolerance_either_side_is_taken() -> None:
    for offset in (-300, -1, 1, 300):
        header = sign(SECRET, STAMP + offset, BODY)
        assert verify(header, BODY, [SECRET], NOW, TOLERANCE) == STAMP + offset


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(sign("whsec_someone_else", STAMP, BODY), BODY, [SECRET], NOW, TOLERANCE)


@pytest.mark.parametrize("tampered", [
    BODY.replace(b"1000", b"9000"),
    BODY + b" ",
    b"",
], ids=["amount changed", "byte appended", "body dropped"])
def test_a_body_changed_after_signing_is_refused(tampered: bytes) -> None:
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(sign(SECRET, STAMP, BODY), tampered, [SECRET], NOW, TOLERANCE)


def test_a_timestamp_changed_after_signing_is_refused() -> None:
    moved = sign(SECRET, STAMP, BODY).replace(f"t={STAMP}", f"t={STAMP + 1}")
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(moved, BODY, [SECRET], NOW, TOLERANCE)


@pytest.mark.parametrize("header", [None, ""], ids=["absent", "empty"])
def test_a_missing_header_is_refused_naming_it(header: str | None) -> None:
    with pytest.raises(SignatureRefused, match=f"no {SIGNATURE_HEADER} header"):
        verify(header, BODY, [SECRET], NOW, TOLERANCE)


@pytest.mark.parametrize("header", [
    "garbage",
    f"v1={digest_of(sign(SECRET, STAMP, BODY))}",
    f"t={STAMP}",
    f"t={STAMP},v0={digest_of(sign(SECRET, STAMP, BODY))}",
], ids=["no fields", "no timestamp", "no digest", "only an unknown scheme"])
def test_a_header_without_a_timestamp_or_a_digest_is_refused(header: str) -> None:
    with pytest.raises(SignatureRefused, match="no timestamp or no v1 digest"):
        verify(header, BODY, [SECRET], NOW, TOLERANCE)


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    header = f"t=yesterday,v1={digest_of(sign(SECRET, STAMP, BODY))}"
    with pytest.raises(SignatureRefused, match="timestamp is not a number"):
        verify(header, BODY, [SECRET], NOW, TOLERANCE)


def test_a_digest_that_is_not_the_expected_one_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(f"t={STAMP},v1=not-hex-at-all", BODY, [SECRET], NOW, TOLERANCE)


def test_a_notification_signed_longer_ago_than_the_tolerance_is_refused() -> None:
    stale = sign(SECRET, STAMP - 301, BODY)
    with pytest.raises(SignatureRefused, match=r"signed 301 s from now, beyond 300 s"):
        verify(stale, BODY, [SECRET], NOW, TOLERANCE)


def test_a_notification_signed_further_ahead_than_the_tolerance_is_refused() -> None:
    early = sign(SECRET, STAMP + 301, BODY)
    with pytest.raises(SignatureRefused, match=r"signed -301 s from now, beyond 300 s"):
        verify(early, BODY, [SECRET], NOW, TOLERANCE)


def test_a_replay_of_a_captured_notification_is_refused_once_the_tolerance_has_passed() -> None:
    captured = sign(SECRET, STAMP, BODY)
    assert verify(captured, BODY, [SECRET], NOW, TOLERANCE) == STAMP
    with pytest.raises(SignatureRefused, match="beyond 300 s"):
        verify(captured, BODY, [SECRET], NOW + timedelta(minutes=10), TOLERANCE)


def test_a_gateway_without_a_secret_is_refused() -> None:
    with pytest.raises(SignatureRefused, match="no secret is configured"):
        verify(sign(SECRET, STAMP, BODY), BODY, [], NOW, TOLERANCE)


@pytest.mark.parametrize("signed_with", [SECRET, OLD_SECRET])
def test_while_a_secret_rotates_a_signature_under_either_secret_is_taken(signed_with: str) -> None:
    header = sign(signed_with, STAMP, BODY)
    assert verify(header, BODY, [SECRET, OLD_SECRET], NOW, TOLERANCE) == STAMP
    assert verify(header, BODY, [OLD_SECRET, SECRET], NOW, TOLERANCE) == STAMP


def test_a_retired_secret_is_refused_once_it_is_no_longer_configured() -> None:
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(sign(OLD_SECRET, STAMP, BODY), BODY, [SECRET], NOW, TOLERANCE)


def test_every_v1_digest_sent_is_compared() -> None:
    current = digest_of(sign(SECRET, STAMP, BODY))
    previous = digest_of(sign(OLD_SECRET, STAMP, BODY))
    # the gateway signs with both secrets while rotating; we may know only one of them
    both = f"t={STAMP},v1={previous},v1={current}"
    assert verify(both, BODY, [SECRET], NOW, TOLERANCE) == STAMP
    assert verify(both, BODY, [OLD_SECRET], NOW, TOLERANCE) == STAMP
    assert verify(f"t={STAMP}, v1={current} , v1={previous}", BODY, [OLD_SECRET], NOW, TOLERANCE) == STAMP
    with pytest.raises(SignatureRefused, match="no signature matches"):
        verify(both, BODY, ["whsec_unrelated"], NOW, TOLERANCE)


def test_one_matching_digest_among_others_is_enough() -> None:
    # the others may be under a secret we no longer hold
    current = digest_of(sign(SECRET, STAMP, BODY))
    assert verify(f"t={STAMP},v1=deadbeef,v1={current}", BODY, [SECRET], NOW, TOLERANCE) == STAMP
