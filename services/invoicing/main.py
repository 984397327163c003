"""Builds the invoicing service: wires settings, store, relay, the feeds consumer, the billing,
statement and delivery workers, and the routers.

This is the one place where real adapters are chosen (the SMTP mailer, the pyx12-validated 837P
writer, the PostgreSQL code catalogue); tests build the same graph with the same function, an
injected clock and a local SMTP server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from prometheus_client import Counter
from pydantic import SecretStr

from services.invoicing.adapters.catalogue_store import CatalogueStore
from services.invoicing.adapters.claim_submission import HttpClaimSubmitter
from services.invoicing.api.errors import install_domain_problems
from services.invoicing.api.routes import router
from services.invoicing.application.billing import Billing, BillingPolicy, Repositories
from services.invoicing.application.catalogue import Catalogue
from services.invoicing.application.claims import Submitter, X12Claims
from services.invoicing.application.delivery import Deliverer, Mailer
from services.invoicing.application.documents import Letterhead
from services.invoicing.application.feeds import UpstreamFeed
from services.invoicing.application.read_models import INLINE_READ_MODELS
from services.invoicing.consumers import feeds_consumer
from services.invoicing.domain.bill import Bill, CodeSet, CrosswalkBook, Statement
from services.invoicing.domain.charge import Charge
from services.invoicing.domain.claim import BillingProvider, ClaimAddress
from services.invoicing.domain.events import INVOICING_EVENTS, SOURCE
from services.invoicing.domain.invoice import Invoice
from services.invoicing.domain.printable import PrintedParty
from services.invoicing.settings import InvoicingSettings
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
    settings: InvoicingSettings | None = None, *, clock: Clock | None = None, mailer: Mailer | None = None
) -> FastAPI:
    settings = settings or InvoicingSettings()
    clock = clock or SystemClock()
    mailer = mailer or SmtpMailer(mail_server(settings), clock)
    letterhead = letterhead_of(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            service_runtime(
                app, settings, source=SOURCE, notify_channel="invoicing_events",
                migrations=[*platform_migrations(), *migrations_in(MIGRATIONS, "invoicing")],
            ) as runtime,
            contextlib.aclosing(HttpClaimSubmitter()) as claim_submitter,
        ):
            def repository(fold, prefix):  # type: ignore[no-untyped-def]
                return EventSourcedRepository(
                    runtime.store, clock, INVOICING_EVENTS, fold, source=SOURCE,
                    inline_projections=INLINE_READ_MODELS, stream_prefix=prefix,
                )

            repositories = Repositories(
                charges=repository(Charge.fold, "charge-"), invoices=repository(Invoice.fold, "invoice-"),
                bills=repository(Bill.fold, "bill-"), crosswalks=repository(CrosswalkBook.fold, "crosswalk-"),
                statements=repository(Statement.fold, "statement-"),
            )
            catalogue = Catalogue(CatalogueStore(runtime.pool, clock), repository(CodeSet.fold, "code-set-"), clock)
            billing = Billing(
                repositories, codes=catalogue, clock=clock, policy=billing_policy(settings),
                claims=X12Claims(Submitter(
                    sender_id=settings.submitter_id, production=settings.x12_production,
                    billing_provider=billing_provider(settings),
                ), clock),
            )
            app.state.billing = billing
            app.state.catalogue = catalogue
            app.state.letterhead = letterhead
            app.state.clock = clock
            if settings.run_background_workers:
                outcomes = Counter(
                    "invoicing_deliveries", "Deliveries of invoices, credit notes, statements and claims by "
                    "outcome: sent, bounced, failed, retry_scheduled.", ["outcome"], registry=app.state.metrics_registry,
                )
                runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
                runtime.run("feeds-consumer", feeds_consumer(runtime, settings, UpstreamFeed(billing)))
                runtime.run("delivery", Deliverer(
                    pool=runtime.pool, repositories=repositories, mailer=mailer, claims=claim_submitter,
                    letterhead=letterhead,
                    clock=clock, policy=DeliveryPolicy(
                        max_attempts=settings.delivery_max_attempts,
                        backoff_seconds=settings.delivery_backoff_seconds,
                        poll_interval_seconds=settings.delivery_poll_interval_seconds,
                        lease_seconds=settings.delivery_lease_seconds,
                    ),
                    on_outcome=lambda outcome: outcomes.labels(outcome).inc(),
                ))
                runtime.run("billing", Every(settings.billing_interval_seconds, lambda: billing.billing_run(
                    runtime.pool, recorded_before=clock.now() - timedelta(seconds=settings.billing_delay_seconds),
                ), "billing run"))
                runtime.run("statements", Every(
                    settings.billing_interval_seconds, lambda: statements_due(billing, runtime.pool, clock, settings),
                    "statement run",
                ))
            yield

    app = create_service_app(
        service_name=settings.service_name, version=VERSION, settings=settings, routers=[router],
        lifespan=lifespan,
        description="Bills to the right party: code catalogue, payer crosswalks, charges, invoices "
        "to payers (X12 837P) and customers, balance transfers after remittances, voids, credit "
        "notes, statements, PDF and e-mail or letter delivery.",
    )
    install_domain_problems(app)
    return app


async def statements_due(billing: Billing, pool: asyncpg.Pool, clock: Clock, settings: InvoicingSettings) -> None:
    """The month's statements, on the configured day (once per customer and date)."""
    today = clock.today()
    if today.day == settings.statement_day_of_month:
        await billing.statement_run(pool, today)


def billing_policy(settings: InvoicingSettings) -> BillingPolicy:
    return BillingPolicy(
        customer_terms_days=settings.customer_payment_terms_days,
        payer_terms_days=settings.payer_payment_terms_days, customer_series=settings.customer_series,
        payer_series=settings.payer_series, credit_note_series=settings.credit_note_series,
        statement_series=settings.statement_series,
    )


def billing_provider(settings: InvoicingSettings) -> BillingProvider:
    return BillingProvider(
        name=settings.provider_name, npi=settings.provider_npi, tax_id=settings.provider_tax_id,
        address=ClaimAddress(
            lines=settings.provider_address_lines, city=settings.provider_city, state=settings.provider_state,
            postal_code=settings.provider_postal_code,
        ),
        contact_name=settings.provider_contact_name, contact_phone=settings.provider_contact_phone,
        contact_email=settings.provider_contact_email,
    )


def letterhead_of(settings: InvoicingSettings) -> Letterhead:
    return Letterhead(
        seller=PrintedParty(
            name=settings.provider_name,
            address_lines=[*settings.provider_address_lines,
                           f"{settings.provider_city}, {settings.provider_state} {settings.provider_postal_code[:5]}"],
            tax_id=settings.provider_tax_id, email=settings.provider_contact_email,
        ),
        how_to_pay=list(settings.how_to_pay), business_id=settings.business_id,
    )


def mail_server(settings: InvoicingSettings) -> MailServer:
    return MailServer(
        host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_sender,
        use_starttls=settings.smtp_starttls, username=settings.smtp_username,
        password=SecretStr(settings.smtp_password) if settings.smtp_password else None,
    )
