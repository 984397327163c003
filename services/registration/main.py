"""Builds the registration service: wires settings, store, relay, consumer and routers.

This is the one place where real adapters are chosen; tests build the same graph with the same
function (real PostgreSQL and Kafka) and an injected clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.registration.adapters.customer_repository import PostgresCustomerRepository
from services.registration.api.errors import install_domain_problems
from services.registration.api.routes import router
from services.registration.application.handlers import Registration
from services.registration.application.identity_index import IdentityIndex
from services.registration.consumers import bounce_consumer, search_model_consumer
from services.registration.domain.events import SOURCE
from services.registration.settings import RegistrationSettings
from shared.clock import Clock, SystemClock
from shared.db import migrations_in, platform_migrations
from shared.http.app import create_service_app
from shared.runtime import service_runtime

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "1.0.0"


def create_app(settings: RegistrationSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(
            app, settings, source=SOURCE, notify_channel="registration_events",
            migrations=[*platform_migrations(), *migrations_in(MIGRATIONS, "registration")],
        ) as runtime:
            identities = IdentityIndex()
            app.state.registration = Registration(
                customers=PostgresCustomerRepository(runtime.store, clock, inline_projections=[identities]),
                identities=identities,
                clock=clock,
            )
            if settings.run_background_workers:
                runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
                runtime.run("search-consumer", search_model_consumer(runtime, settings))
                runtime.run("bounce-consumer", bounce_consumer(runtime, settings, app.state.registration))
            yield

    app = create_service_app(
        service_name=settings.service_name,
        version=VERSION,
        settings=settings,
        routers=[router],
        lifespan=lifespan,
        description="Customers, their contact details, special concerns and who pays for their services.",
    )
    install_domain_problems(app)
    return app
