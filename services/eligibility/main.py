"""Builds the eligibility service: wires settings, store, relay, the registration consumer, the
verifier and the routers.

This is the one place where real adapters are chosen (the X12 gateway over HTTP, the program
table file); tests build the same graph with the same function, an injected clock, and the payer
simulator standing in for a clearinghouse."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from services.eligibility.adapters.clearinghouse import HttpClearinghouse
from services.eligibility.adapters.program_table import load_program_table
from services.eligibility.adapters.x12_gateway import X12Gateway
from services.eligibility.api.errors import install_domain_problems
from services.eligibility.api.estimates import router as estimates_router
from services.eligibility.api.routes import router
from services.eligibility.application.estimating import Estimating
from services.eligibility.application.handlers import PayerNotFound, Verifications
from services.eligibility.application.read_models import INLINE_READ_MODELS
from services.eligibility.application.registration_feed import RegistrationFeed
from services.eligibility.application.reverification import Reverifier
from services.eligibility.application.verifier import Submitter, Verifier, VerifierPolicy
from services.eligibility.consumers import registration_feed_consumer
from services.eligibility.domain.coverage import Party
from services.eligibility.domain.documents import IssuedDocument
from services.eligibility.domain.estimates import EstimatePolicy
from services.eligibility.domain.events import ELIGIBILITY_EVENTS, SOURCE
from services.eligibility.domain.payer import Payer
from services.eligibility.domain.verification import CoverageVerification
from services.eligibility.settings import EligibilitySettings
from shared.clock import Clock, SystemClock
from shared.db import migrations_in, platform_migrations
from shared.eventstore.repository import EventSourcedRepository
from shared.http.app import create_service_app
from shared.runtime import service_runtime

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "1.0.0"


def create_app(settings: EligibilitySettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or EligibilitySettings()
    clock = clock or SystemClock()
    programs = load_program_table(settings.program_table)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            service_runtime(
                app, settings, source=SOURCE, notify_channel="eligibility_events",
                migrations=[*platform_migrations(), *migrations_in(MIGRATIONS, "eligibility")],
            ) as runtime,
            contextlib.aclosing(X12Gateway(HttpClearinghouse(), clock)) as gateway,
        ):
            def repository(fold, **options):  # type: ignore[no-untyped-def]
                return EventSourcedRepository(
                    runtime.store, clock, ELIGIBILITY_EVENTS, fold, source=SOURCE,
                    inline_projections=INLINE_READ_MODELS, **options,
                )

            verifications = Verifications(
                payers=repository(Payer.fold, not_found=PayerNotFound, stream_prefix="payer-"),
                coverages=repository(CoverageVerification.fold, stream_prefix="coverage-"),
                clock=clock, valid_days=settings.verification_valid_days,
            )
            app.state.verifications = verifications
            app.state.estimating = Estimating(
                documents=repository(IssuedDocument.fold), clock=clock, programs=programs,
                region=settings.program_region, currency=settings.estimate_currency,
                determination_valid_days=settings.determination_valid_days,
                estimate_valid_days=settings.estimate_valid_days,
                flag_threshold=settings.estimate_flag_threshold,
                policy=estimate_policy(settings),
            )
            if settings.run_background_workers:
                feed = RegistrationFeed(verifications, clock, settings.inquiry_service_types)
                runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
                runtime.run("registration-consumer", registration_feed_consumer(runtime, settings, feed))
                checks_ended = Counter(
                    "eligibility_check_attempts", "Verification attempts by outcome: active, inactive, "
                    "rejected, retry_scheduled, failed.", ["outcome"], registry=app.state.metrics_registry,
                )
                runtime.run("verifier", Verifier(
                    pool=runtime.pool, verifications=verifications, gateway=gateway,
                    submitter=Submitter(
                        sender_id=settings.submitter_id,
                        provider=Party(name=settings.provider_name, identifier=settings.provider_npi),
                        production=settings.x12_production,
                    ),
                    policy=VerifierPolicy(
                        max_attempts=settings.verifier_max_attempts,
                        backoff_seconds=settings.verifier_backoff_seconds,
                        backoff_max_seconds=settings.verifier_backoff_max_seconds,
                        poll_interval_seconds=settings.verifier_poll_interval_seconds,
                        lease_seconds=settings.verifier_lease_seconds,
                    ),
                    on_outcome=lambda outcome: checks_ended.labels(outcome).inc(),
                ))
                runtime.run("reverifier", Reverifier(
                    pool=runtime.pool, verifications=verifications,
                    lead_days=settings.reverify_days_before_stale,
                    service_types=settings.inquiry_service_types,
                    interval_seconds=settings.reverify_interval_seconds,
                ))
            yield

    app = create_service_app(
        service_name=settings.service_name,
        version=VERSION,
        settings=settings,
        routers=[router, estimates_router],
        lifespan=lifespan,
        description="Who pays: payer directory, insurance verification (X12 270/271), payment "
        "programs, and Good Faith Estimates with advice on paying less.",
    )
    install_domain_problems(app)
    return app


def estimate_policy(settings: EligibilitySettings) -> EstimatePolicy:
    return EstimatePolicy(
        prompt_pay_discount_bp=settings.prompt_pay_discount_bp,
        prompt_pay_days=settings.prompt_pay_days,
        payment_plan_threshold=settings.payment_plan_threshold,
        payment_plan_min_instalment=settings.payment_plan_min_instalment,
        payment_plan_max_instalments=settings.payment_plan_max_instalments,
    )
