"""Builds the payments service: wires settings, store, relay, the consumer of invoicing's and
collections' events, the missed-payment scheduler and the routers.

This is the one place where real adapters are chosen (the pyx12-validated 835 reader, the HMAC
gateway signature check); tests build the same graph with the same function and an injected
clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from services.payments.adapters.x12_835 import read_835, validate_835
from services.payments.api.errors import install_domain_problems
from services.payments.api.routes import router
from services.payments.application.feeds import PaymentsFeeds
from services.payments.application.gateways import Gateways
from services.payments.application.ledger import (
    Ledger,
    PaymentNotFound,
    PlanNotFound,
    PlanPolicy,
    Repositories,
)
from services.payments.application.missed import MissedPaymentScheduler
from services.payments.application.read_models import INLINE_READ_MODELS
from services.payments.application.remittances import DocumentProblem, Remittances
from services.payments.consumers import feeds_consumer
from services.payments.domain.dues import InvoiceDue
from services.payments.domain.events import PAYMENTS_EVENTS, SOURCE
from services.payments.domain.instructions import Instructions
from services.payments.domain.payment import Payment
from services.payments.domain.plan import PaymentPlan
from services.payments.domain.remittance import Remittance
from services.payments.settings import PaymentsSettings
from shared.clock import Clock, SystemClock
from shared.db import migrations_in, platform_migrations
from shared.eventstore.repository import EventSourcedRepository, StreamNotFound
from shared.http.app import create_service_app
from shared.runtime import Every, service_runtime

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "1.0.0"


def document_problems(text: str) -> list[DocumentProblem]:
    """pyx12's findings, each located by element (or segment) and loop."""
    return [
        DocumentProblem(
            (problem.element or problem.segment or "body") + (f" (loop {problem.loop})" if problem.loop else ""),
            str(problem),
        )
        for problem in validate_835(text)
    ]


def create_app(settings: PaymentsSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(
            app, settings, source=SOURCE, notify_channel="payments_events",
            migrations=[*platform_migrations(), *migrations_in(MIGRATIONS, "payments")],
        ) as runtime:
            def repository(fold, prefix, not_found=StreamNotFound):  # type: ignore[no-untyped-def]
                return EventSourcedRepository(
                    runtime.store, clock, PAYMENTS_EVENTS, fold, source=SOURCE,
                    inline_projections=INLINE_READ_MODELS, stream_prefix=prefix, not_found=not_found,
                )

            repositories = Repositories(
                payments=repository(Payment.fold, "payment-", PaymentNotFound),
                plans=repository(PaymentPlan.fold, "plan-", PlanNotFound),
                dues=repository(InvoiceDue.fold, "due-"), remittances=repository(Remittance.fold, "remittance-"),
                instructions=repository(Instructions.fold, "instructions-"),
            )
            ledger = Ledger(
                repositories, clock, PlanPolicy(
                    minimum_instalment=settings.plan_minimum_instalment,
                    default_after_missed=settings.plan_default_after_missed, grace_days=settings.plan_grace_days,
                    max_instalments=settings.plan_max_instalments,
                ),
                apply_credit_to_new_invoices=settings.apply_credit_to_new_invoices,
            )
            scheduler = MissedPaymentScheduler(runtime.pool, repositories, clock, settings.invoice_grace_days)
            app.state.ledger = ledger
            app.state.remittances = Remittances(ledger, repositories, clock, document_problems, read_835)
            app.state.gateways = Gateways(ledger, clock)
            app.state.scheduler = scheduler
            app.state.clock = clock
            app.state.gateway_notifications = Counter(
                "payments_gateway_notifications", "Gateway notifications by gateway and outcome: taken, "
                "duplicate, ignored, refused.", ["gateway", "outcome"], registry=app.state.metrics_registry,
            )
            if settings.run_background_workers:
                runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
                runtime.run("feeds-consumer", feeds_consumer(runtime, settings, PaymentsFeeds(ledger)))
                runtime.run("missed-payments", Every(
                    settings.missed_payment_interval_seconds, scheduler.run, "missed-payment run",
                ))
            yield

    app = create_service_app(
        service_name=settings.service_name, version=VERSION, settings=settings, routers=[router],
        lifespan=lifespan,
        description="Takes money in from every kind of party and puts it where it belongs: payments, "
        "allocation, credit, refunds and reversals, signed gateway notifications, payers' X12 835 "
        "remittances, payment plans, missed payments, how to pay, and balances.",
    )
    app.state.settings = settings
    install_domain_problems(app)
    return app
