"""The relay's wait for a wake-up must never swallow a cancellation: on Python 3.11,
asyncio.wait_for returns the result when a cancellation and the result arrive together, and a
relay that survives its cancel keeps its service (or a test) from ever stopping."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from shared.relay import OutboxRelay


def idle_relay() -> OutboxRelay:
    store = SimpleNamespace(pool=None, notify_channel="events")
    return OutboxRelay(store=store, producer=None, topic="t", poll_interval=10)  # type: ignore[arg-type]


async def test_a_cancel_arriving_with_the_wake_up_stops_the_wait() -> None:
    relay = idle_relay()
    waiting = asyncio.create_task(relay._woken_within(10))
    await asyncio.sleep(0)  # the relay now waits

    relay._notified()  # a NOTIFY arrives...
    waiting.cancel()  # ...in the same turn as the shutdown

    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_the_wait_reports_a_wake_up_and_a_quiet_interval() -> None:
    relay = idle_relay()
    relay._notified()
    assert await relay._woken_within(10) is True
    relay._wake.clear()
    assert await relay._woken_within(0.01) is False
