"""Collections' settings, from COLLECTIONS_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings

DEFAULT_POLICY_FILE = Path(__file__).resolve().parents[2] / "deploy" / "collections.toml"


class CollectionsSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="COLLECTIONS_", extra="ignore", case_sensitive=False)

    service_name: str = Field("collections", description="Name in logs, metrics and event sources.")
    database_url: str = Field(
        "postgresql://collections:collections@127.0.0.1:5432/collections",
        description="Collections' own PostgreSQL database.",
    )
    http_port: int = Field(8005, ge=1, le=65535, description="Port the HTTP API listens on.")
    events_topic: str = Field("collections.events", description="Topic the relay publishes to.")
    relay_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Longest wait between relay passes when no NOTIFY wakes it."
    )
    feeds_consumer_group: str = Field(
        "collections.feeds", description="Consumer group reading registration's, invoicing's and payments' events."
    )
    feeds_dead_letter_topic: str = Field("collections.feeds.dlq", description="Where that consumer dead-letters.")
    run_background_workers: bool = Field(
        True, description="Run the relays, the consumer, the dunning scheduler and notice delivery in the API process."
    )
    business_id: str = Field(
        "clinic", description="The business whose invoices this deployment collects (its policy and how to pay)."
    )
    policy_file: Path = Field(
        DEFAULT_POLICY_FILE, description="TOML file of dunning policies per business, agencies and assignment rules."
    )
    dunning_interval_seconds: float = Field(
        900.0, gt=0, description="How often every debt in dunning is reviewed (at the clock's now)."
    )
    # notices: the letterhead and the mail server
    business_name: str = Field("Example Community Clinic", description="Name printed on notices.")
    business_address: list[str] = Field(
        ["100 Main Street", "Springfield, IL 62701"], description="Address lines printed on notices, as JSON."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server that sends notices by e-mail.")
    smtp_port: int = Field(1025, ge=1, le=65535, description="Its port.")
    smtp_sender: str = Field("collections@clinic.example", description="From address of notice e-mails.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(None, description="SMTP password, if the server needs one.")
    delivery_max_attempts: int = Field(5, ge=1, le=50, description="Tries before a notice's delivery fails for good.")
    delivery_backoff_seconds: float = Field(30.0, gt=0, description="Wait before retrying; doubles each time.")
    delivery_poll_interval_seconds: float = Field(1.0, gt=0, description="How often notices are looked for.")
    delivery_lease_seconds: float = Field(120.0, gt=0, description="How long a worker holds a claimed notice.")
