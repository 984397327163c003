"""Builds the collections service: wires settings, policy, store, the two relays (collections'
own topic, and each agency's), the upstream feed consumer, the dunning scheduler, notice delivery
and the routers.

This is the one place where real adapters are chosen (the SMTP mailer, the policy file); tests
build the same graph with the same function, an injected clock and a policy of their own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from services.collections.api.errors import install_domain_problems
from services.collections.api.routes import router
from services.collections.application.agency_relay import agency_route
from services.collections.application.delivery import (
    Letterhead,
    Mailer,
    NoticeDeliverer,
)
from services.collections.application.dunning import Collections, NoticeOutcomesRecorder
from services.collections.application.feeds import UpstreamFeed
from services.collections.application.read_models import INLINE_READ_MODELS
from services.collections.consumers import feeds_consumer
from services.collections.domain.debt import Debt, DebtNotFound
from services.collections.domain.events import COLLECTIONS_EVENTS, SOURCE
from services.collections.domain.policy import Policies
from services.collections.settings import CollectionsSettings
from shared.clock import Clock, SystemClock
from shared.db import migrations_in, platform_migrations
from shared.delivery import DeliveryPolicy
from shared.eventstore.repository import EventSourcedRepository
from shared.http.app import create_service_app
from shared.mail import MailServer, SmtpMailer
from shared.runtime import Every, service_runtime

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "1.0.0"


def create_app(
    settings: CollectionsSettings | None = None, *, clock: Clock | None = None, policies: Policies | None = None,
    mailer: Mailer | None = None,
) -> FastAPI:
    settings = settings or CollectionsSettings()
    clock = clock or SystemClock()
    policies = policies or Policies.load(settings.policy_file)
    mailer = mailer or SmtpMailer(mail_server(settings), clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(
            app, settings, source=SOURCE, notify_channel="collections_events",
            migrations=[*platform_migrations(), *migrations_in(MIGRATIONS, "collections")],
        ) as runtime:
            debts = EventSourcedRepository(
                runtime.store, clock, COLLECTIONS_EVENTS, Debt.fold, source=SOURCE,
                inline_projections=INLINE_READ_MODELS, stream_prefix="debt-", not_found=DebtNotFound,
            )
            collections = Collections(runtime.pool, debts, policies, settings.business_id, clock)
            app.state.collections = collections
            app.state.clock = clock
            if settings.run_background_workers:
                runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
                runtime.run("agency-relay", runtime.relay(
                    "collections.agency", settings.relay_poll_interval_seconds, name="agency-relay",
                    route=agency_route,
                ))
                runtime.run("feeds-consumer", feeds_consumer(runtime, settings, UpstreamFeed(collections)))
                runtime.run("dunning", Every(settings.dunning_interval_seconds, collections.run, "dunning run"))
                runtime.run("notice-delivery", notice_deliverer(runtime.pool, settings, mailer, NoticeOutcomesRecorder(
                    runtime.pool, debts, clock,
                )))
            yield

    app = create_service_app(
        service_name=settings.service_name, version=VERSION, settings=settings, routers=[router],
        lifespan=lifespan,
        description="Keeps accounts in good standing and works the ones in arrears: standing and aging, "
        "per-debt dunning by each business's policy under compliance guards, contact verification, demands "
        "that say how to pay, disputes, and placements with collection agencies, which report what they collect.",
    )
    app.state.settings = settings
    install_domain_problems(app)
    return app


def mail_server(settings: CollectionsSettings) -> MailServer:
    return MailServer(
        host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
        use_starttls=settings.smtp_starttls, username=settings.smtp_username,
        password=SecretStr(settings.smtp_password) if settings.smtp_password else None,
    )


def notice_deliverer(pool, settings: CollectionsSettings, mailer, outcomes):  # type: ignore[no-untyped-def]

    return NoticeDeliverer(
        pool=pool, mailer=mailer, outcomes=outcomes,
        letterhead=Letterhead(settings.business_name, settings.business_address),
        policy=DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts, backoff_seconds=settings.delivery_backoff_seconds,
            poll_interval_seconds=settings.delivery_poll_interval_seconds,
            lease_seconds=settings.delivery_lease_seconds,
        ),
    )
