"""Eligibility's settings, from ELIGIBILITY_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings

DEFAULT_PROGRAM_TABLE = Path(__file__).parent / "programs.toml"


class EligibilitySettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="ELIGIBILITY_", extra="ignore", case_sensitive=False)

    service_name: str = Field("eligibility", description="Name in logs, metrics and event sources.")
    database_url: str = Field(
        "postgresql://eligibility:eligibility@127.0.0.1:5432/eligibility",
        description="Eligibility's own PostgreSQL database.",
    )
    http_port: int = Field(8002, ge=1, le=65535, description="Port the HTTP API listens on.")
    events_topic: str = Field("eligibility.events", description="Topic the relay publishes to.")
    relay_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Longest wait between relay passes when no NOTIFY wakes it."
    )
    registration_consumer_group: str = Field(
        "eligibility.registration-feed",
        description="Consumer group reading registration.events (customers, coverages) to start checks.",
    )
    registration_dead_letter_topic: str = Field(
        "eligibility.registration-feed.dlq", description="Where that consumer dead-letters."
    )
    run_background_workers: bool = Field(
        True, description="Run the relay, the registration consumer and the verifier in the API process."
    )
    # verification
    verification_valid_days: int = Field(
        30, ge=1, le=366, description="Days a verification counts before it is stale."
    )
    reverify_days_before_stale: int = Field(
        3, ge=0, le=60, description="Ask again about a coverage this many days before its verification goes stale."
    )
    reverify_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the service looks for verifications going stale."
    )
    inquiry_service_types: list[str] = Field(
        ["30"], min_length=1,
        description='X12 service type codes asked in triggered checks, as JSON, e.g. ["30", "98"].',
    )
    verifier_max_attempts: int = Field(
        4, ge=1, le=20, description="Tries to reach a payer before a check fails."
    )
    verifier_backoff_seconds: float = Field(
        2.0, gt=0, description="Wait before the second try; it doubles for each further try."
    )
    verifier_backoff_max_seconds: float = Field(300.0, gt=0, description="Longest wait between tries.")
    verifier_lease_seconds: float = Field(
        180.0, gt=0,
        description="How long a claimed check is left to its worker before another takes it over "
        "(a crashed worker's checks are tried again after this); longer than any payer's timeout.",
    )
    verifier_poll_interval_seconds: float = Field(
        1.0, gt=0, description="How often the verifier looks for due checks when idle."
    )
    submitter_id: str = Field(
        "BILLINGPLATFORM", max_length=15, description="Our interchange id at clearinghouses (ISA06)."
    )
    provider_name: str = Field("Example Community Clinic", description="Provider named in inquiries (2100B).")
    provider_npi: str = Field(
        "1234567893", pattern=r"^\d{10}$", description="The provider's NPI, sent in inquiries (2100B NM109)."
    )
    x12_production: bool = Field(False, description="Mark interchanges as production (ISA15 P) instead of test.")
    # payment programs
    program_table: Path = Field(
        DEFAULT_PROGRAM_TABLE, description="TOML file of poverty guidelines and sliding-fee programs."
    )
    program_region: Literal["contiguous", "alaska", "hawaii"] = Field(
        "contiguous", description="Poverty-guideline region: contiguous, alaska or hawaii."
    )
    determination_valid_days: int = Field(
        365, ge=1, le=730, description="Days a program determination counts before income is asked again."
    )
    # estimates
    estimate_currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="Currency of estimates.")
    estimate_flag_threshold: int = Field(
        40000, ge=0,
        description="Minor units a bill may exceed the customer's estimate by before it is flagged "
        "(US No Surprises Act: $400).",
    )
    estimate_valid_days: int = Field(365, ge=1, description="Days an estimate counts.")
    prompt_pay_discount_bp: int = Field(
        0, ge=0, le=10000, description="Prompt-pay discount in basis points (500 = 5%); 0 offers none."
    )
    prompt_pay_days: int = Field(30, ge=0, description="Days after the bill within which prompt pay applies.")
    payment_plan_threshold: int = Field(
        50000, ge=0, description="Customer portion (minor units) from which a payment plan is suggested."
    )
    payment_plan_min_instalment: int = Field(5000, ge=1, description="Smallest instalment, minor units.")
    payment_plan_max_instalments: int = Field(12, ge=2, description="Most instalments a plan may have.")
