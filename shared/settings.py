"""Configuration every service shares, read from the environment.

Each service subclasses ``PlatformSettings`` with its own prefix, so one shell (or one e2e test
process) can hold the settings of all services side by side::

    class RegistrationSettings(PlatformSettings):
        model_config = SettingsConfigDict(env_prefix="REGISTRATION_")
        service_name: str = "registration"
        database_url: str = Field(
            "postgresql://registration:registration@127.0.0.1:5432/registration",
            description="...",
        )

``python -m shared.settings services.registration.settings.RegistrationSettings`` prints the
environment variables as a markdown table for the service's README.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.http.auth import TokenGrant

DEVELOPMENT_ENVIRONMENTS = frozenset({"development", "test"})
DEVELOPMENT_API_TOKEN = "dev-token-change-me"
DEVELOPMENT_API_TOKENS = {DEVELOPMENT_API_TOKEN: TokenGrant(system="developer", scopes=["*"])}


class PlatformSettings(BaseSettings):
    """The settings of any service; subclasses add theirs and set ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    environment: str = Field(
        "development",
        description="Where this runs: development, test, staging, production. Outside development "
        "and test the service refuses to start with the development API token.",
    )
    service_name: str = Field(
        description="The service's name in logs, metrics and event sources, e.g. registration.",
    )
    database_url: str = Field(
        description="The service's own PostgreSQL database: postgresql://user:pass@host:port/db.",
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        description="Kafka brokers to bootstrap from, comma-separated host:port.",
    )
    api_tokens: dict[str, TokenGrant] = Field(
        default_factory=lambda: dict(DEVELOPMENT_API_TOKENS),
        description='Bearer tokens accepted, as JSON: {"<token>": {"system": "crm", "scopes": '
        '["registration:read", "registration:write"]}}. The default is a development token '
        f"({DEVELOPMENT_API_TOKEN}) granting every scope.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level of log lines written to stdout (JSON, one per line)."
    )
    http_host: str = Field("127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(8000, ge=1, le=65535, description="Port the HTTP API listens on.")

    @field_validator("database_url")
    @classmethod
    def _must_be_postgresql(cls, database_url: str) -> str:
        # a validator, not a Field pattern, so it still applies when a subclass sets a default
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return database_url

    @model_validator(mode="after")
    def _refuse_development_token_outside_development(self) -> PlatformSettings:
        # A deployment that forgot to configure its tokens must fail loudly, not accept a token
        # anyone can read in this file.
        in_development = self.environment in DEVELOPMENT_ENVIRONMENTS
        if not in_development and DEVELOPMENT_API_TOKEN in self.api_tokens:
            raise ValueError(
                f"the development API token is not allowed when environment={self.environment!r}; "
                "configure API_TOKENS for this deployment"
            )
        return self


def environment_variables_table(settings_class: type[BaseSettings]) -> str:
    """The environment variables a settings class reads, as a markdown table for READMEs."""
    prefix = str(settings_class.model_config.get("env_prefix", "")).upper()
    lines = ["| Variable | Default | Description |", "| --- | --- | --- |"]
    for name, field in settings_class.model_fields.items():
        if field.is_required():
            default = "*(required)*"
        else:
            value: Any = field.get_default(call_default_factory=True)
            default = f"`{_as_environment_value(value)}`"
        description = _description_of(settings_class, name).replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | {default} | {description} |")
    return "\n".join(lines)


def _description_of(settings_class: type[BaseSettings], name: str) -> str:
    # a subclass that only changes a default (service_name: str = "registration") keeps the
    # description its base gave the field
    for cls in settings_class.__mro__:
        field = getattr(cls, "model_fields", {}).get(name)
        if field is not None and field.description:
            return field.description
    return ""


def _as_environment_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=lambda model: model.model_dump(), separators=(",", ":"))
    return str(value)


def _load_class(dotted_name: str) -> type[BaseSettings]:
    module_name, _, class_name = dotted_name.rpartition(".")
    settings_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(settings_class, type) and issubclass(settings_class, BaseSettings)):
        raise SystemExit(f"{dotted_name} is not a pydantic-settings class")
    return settings_class


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m shared.settings <module.SettingsClass>")
    print(environment_variables_table(_load_class(sys.argv[1])))
