"""Invoicing's settings, from INVOICING_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings


class InvoicingSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICING_", extra="ignore", case_sensitive=False)

    service_name: str = Field("invoicing", description="Name in logs, metrics and event sources.")
    database_url: str = Field(
        "postgresql://invoicing:invoicing@127.0.0.1:5432/invoicing",
        description="Invoicing's own PostgreSQL database.",
    )
    http_port: int = Field(8003, ge=1, le=65535, description="Port the HTTP API listens on.")
    events_topic: str = Field("invoicing.events", description="Topic the relay publishes to.")
    relay_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Longest wait between relay passes when no NOTIFY wakes it."
    )
    feeds_consumer_group: str = Field(
        "invoicing.feeds",
        description="Consumer group reading registration, eligibility and payments events.",
    )
    feeds_dead_letter_topic: str = Field("invoicing.feeds.dlq", description="Where that consumer dead-letters.")
    run_background_workers: bool = Field(
        True, description="Run the relay, the consumer, billing, statements and delivery in the API process."
    )
    # billing
    billing_delay_seconds: float = Field(
        3600.0, ge=0,
        description="An encounter is billed once no charge was added to it for this long "
        "(operators can bill at once with POST /v1/billing-runs).",
    )
    billing_interval_seconds: float = Field(60.0, gt=0, description="How often the billing run looks for work.")
    customer_payment_terms_days: int = Field(30, ge=0, le=365, description="Days a customer has to pay.")
    payer_payment_terms_days: int = Field(30, ge=0, le=365, description="Days a payer has to pay.")
    customer_series: str = Field("INV", pattern=r"^[A-Z]{1,6}$", description="Number prefix of customer invoices.")
    payer_series: str = Field("PAY", pattern=r"^[A-Z]{1,6}$", description="Number prefix of invoices to payers.")
    credit_note_series: str = Field("CN", pattern=r"^[A-Z]{1,6}$", description="Number prefix of credit notes.")
    statement_series: str = Field("ST", pattern=r"^[A-Z]{1,6}$", description="Number prefix of statements.")
    statement_day_of_month: int = Field(
        1, ge=1, le=28, description="Day of the month customer statements of open items are issued."
    )
    # the provider that bills (837P loop 2010AA, invoice letterhead)
    provider_name: str = Field("Example Community Clinic", description="Who bills: name on invoices and claims.")
    provider_npi: str = Field("1234567893", pattern=r"^\d{10}$", description="The billing provider's NPI.")
    provider_tax_id: str = Field("123456789", pattern=r"^\d{9}$", description="The billing provider's EIN.")
    provider_address_lines: list[str] = Field(
        ["100 Main Street"], min_length=1, max_length=2, description="Street address, as JSON."
    )
    provider_city: str = Field("Springfield", description="City of the billing provider.")
    provider_state: str = Field("IL", pattern=r"^[A-Z]{2}$", description="State of the billing provider.")
    provider_postal_code: str = Field("627011234", pattern=r"^\d{9}$", description="ZIP+4, 9 digits.")
    provider_contact_name: str = Field("Billing Office", description="Who answers questions about bills.")
    provider_contact_phone: str = Field("2175550100", description="Phone of the billing office, 10 digits.")
    provider_contact_email: str = Field("billing@clinic.example", description="E-mail of the billing office.")
    submitter_id: str = Field(
        "BILLINGPLATFORM", max_length=15, description="Our interchange id at clearinghouses (ISA06)."
    )
    x12_production: bool = Field(False, description="Mark claims as production (ISA15 P) instead of test.")
    business_id: str = Field(
        "clinic", description="The business whose payment instructions, as payments publishes them, invoices "
        "and statements print under 'How to pay'.",
    )
    how_to_pay: list[str] = Field(
        ["Pay online at https://pay.clinic.example", "Or by cheque to Example Community Clinic, 100 Main Street"],
        description="Lines printed under 'How to pay' until payments has published the business's instructions, as JSON.",
    )
    # delivery
    smtp_host: str = Field("127.0.0.1", description="SMTP server that sends invoices by e-mail.")
    smtp_port: int = Field(1025, ge=1, le=65535, description="Its port.")
    smtp_sender: str = Field("billing@clinic.example", description="From address of invoice e-mails.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(None, description="SMTP password, if the server needs one.")
    delivery_max_attempts: int = Field(5, ge=1, le=50, description="Tries before a delivery fails for good.")
    delivery_backoff_seconds: float = Field(30.0, gt=0, description="Wait before retrying; doubles each time.")
    delivery_poll_interval_seconds: float = Field(1.0, gt=0, description="How often deliveries are looked for.")
    delivery_lease_seconds: float = Field(120.0, gt=0, description="How long a worker holds a claimed delivery.")
