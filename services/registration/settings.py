"""Registration's settings, from REGISTRATION_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import PlatformSettings


class RegistrationSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore", case_sensitive=False)

    service_name: str = Field("registration", description="Name in logs, metrics and event sources.")
    database_url: str = Field(
        "postgresql://registration:registration@127.0.0.1:5432/registration",
        pattern=r"^postgres(ql)?://",
        description="Registration's own PostgreSQL database.",
    )
    http_port: int = Field(8001, ge=1, le=65535, description="Port the HTTP API listens on.")
    events_topic: str = Field("registration.events", description="Topic the relay publishes to.")
    relay_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Longest wait between relay passes when no NOTIFY wakes it."
    )
    search_consumer_group: str = Field(
        "registration.search-projection", description="Consumer group keeping the search model."
    )
    search_dead_letter_topic: str = Field(
        "registration.search-projection.dlq", description="Where the search consumer dead-letters."
    )
    bounce_consumer_group: str = Field(
        "registration.bounce-feed",
        description="Consumer group reading invoicing's delivery failures to mark bounced contact points.",
    )
    bounce_dead_letter_topic: str = Field(
        "registration.bounce-feed.dlq", description="Where the bounce consumer dead-letters."
    )
    run_background_workers: bool = Field(
        True, description="Run the relay and the search-model consumer inside the API process."
    )
