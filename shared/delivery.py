"""What every delivery worker of the platform shares (invoicing's documents and claims,
collections' notices): its retry and lease policy, and its loop. Each worker claims what is due
from its own queue table with ``FOR UPDATE SKIP LOCKED`` and a lease on the database's clock, so
several workers share a queue and a crashed worker's items are taken up again when the lease runs
out; an item whose delivery raised is left to its lease in the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    lease_seconds: float = 120.0
    batch_size: int = 20

    def backoff(self, attempts: int) -> float:
        """The wait after the ``attempts``-th try failed for now: doubling from ``backoff_seconds``."""
        return self.backoff_seconds * 2 ** max(0, attempts - 1)


class LeasedDeliveries(Generic[Item]):
    """The loop of a delivery worker: claim what is due, deliver each, wait when there was none."""

    policy: DeliveryPolicy

    async def run(self) -> None:
        while True:
            worked = await self.run_once()
            if not worked:
                await asyncio.sleep(self.policy.poll_interval_seconds)

    async def run_once(self) -> int:
        """Delivers what is due now; the number of items worked on."""
        due = await self._claim()
        for item in due:
            try:
                await self._deliver(item)
            except Exception:  # the lease runs out and the delivery is tried again
                log.exception("delivering %s failed", self._describe(item))
        return len(due)

    async def _claim(self) -> Sequence[Item]:
        raise NotImplementedError

    async def _deliver(self, item: Item) -> None:
        raise NotImplementedError

    def _describe(self, item: Item) -> str:
        return repr(item)
