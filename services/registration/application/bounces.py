"""Bounces reported by the services that send mail: when invoicing's e-mail to a customer is
refused for good, the contact point it used is marked bounced here, in the consumer's inbox
transaction, so every service stops using it until it is changed or verified again."""

from __future__ import annotations

import logging

import asyncpg

from services.registration.adapters.delivery_events import DELIVERY_FAILED, DeliveryFailed
from services.registration.application.handlers import Registration
from services.registration.domain.commands import MarkContactPointBounced
from shared.envelope import EventEnvelope
from shared.rules import RuleViolated

log = logging.getLogger(__name__)


class BounceFeed:
    name = "registration.bounce-feed"
    tables: tuple[str, ...] = ()  # it keeps no read model: it records events on customers
    event_types = DELIVERY_FAILED

    def __init__(self, registration: Registration) -> None:
        self.registration = registration

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        failed = DeliveryFailed.model_validate(event.data)
        if not failed.bounced or failed.contact_point_id is None:
            return
        command = MarkContactPointBounced(
            contact_point_id=failed.contact_point_id,
            reason=f"{event.source} could not deliver to {failed.recipient}: {failed.reason}"[:500],
        )
        try:
            await self.registration.mark_contact_point_bounced(conn, failed.customer_id, command)
        except RuleViolated as stale:  # the customer changed that contact point since
            log.info("bounce of %s for %s not recorded: %s", failed.contact_point_id, failed.customer_id, stale)
