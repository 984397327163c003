"""Payments' settings, from PAYMENTS_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings


class PaymentsSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", case_sensitive=False)

    service_name: str = Field("payments", description="Name in logs, metrics and event sources.")
    database_url: str = Field(
        "postgresql://payments:payments@127.0.0.1:5432/payments", description="Payments' own PostgreSQL database."
    )
    http_port: int = Field(8004, ge=1, le=65535, description="Port the HTTP API listens on.")
    events_topic: str = Field("payments.events", description="Topic the relay publishes to.")
    relay_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Longest wait between relay passes when no NOTIFY wakes it."
    )
    feeds_consumer_group: str = Field(
        "payments.feeds", description="Consumer group reading invoicing's and collections' events."
    )
    feeds_dead_letter_topic: str = Field("payments.feeds.dlq", description="Where that consumer dead-letters.")
    run_background_workers: bool = Field(
        True, description="Run the relay, the consumer and the missed-payment scheduler in the API process."
    )
    apply_credit_to_new_invoices: bool = Field(
        True, description="Pay a customer's new invoice from their account's credit as soon as it is issued."
    )
    # payment plans
    plan_minimum_instalment: int = Field(
        2500, ge=1, description="Smallest instalment a plan may ask, in minor units."
    )
    plan_max_instalments: int = Field(60, ge=1, le=360, description="Most instalments a plan may have.")
    plan_default_after_missed: int = Field(
        2, ge=1, le=12, description="Missed instalments after which a plan defaults."
    )
    plan_grace_days: int = Field(
        0, ge=0, le=60, description="Days after an instalment's due date before it counts as missed."
    )
    # missed payments
    invoice_grace_days: int = Field(
        0, ge=0, le=90, description="Days after an invoice's due date before it counts as missed."
    )
    missed_payment_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the scheduler looks for missed payments (for the clock's today)."
    )
    # gateways
    gateway_secrets: dict[str, list[str]] = Field(
        {}, description='Shared secrets per gateway, as JSON: {"cardpay": ["whsec_..."]}; two while rotating.'
    )
    gateway_tolerance_seconds: float = Field(
        300.0, gt=0, le=3600, description="How old a signed gateway notification may be before it is refused."
    )
