"""Settings come from prefixed environment variables and refuse development secrets in
production."""

from __future__ import annotations

import json

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict

from shared.settings import DEVELOPMENT_API_TOKEN, PlatformSettings, environment_variables_table


class ExampleSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    service_name: str = "example"
    database_url: str = Field(
        "postgresql://example:example@127.0.0.1:5432/example", description="The example database."
    )


def test_development_gets_a_working_development_token():
    settings = ExampleSettings(environment="development")

    assert DEVELOPMENT_API_TOKEN in settings.api_tokens


def test_production_refuses_to_start_with_the_development_token():
    with pytest.raises(ValidationError, match="development API token"):
        ExampleSettings(environment="production")


def test_production_starts_with_its_own_tokens_read_from_prefixed_json(monkeypatch):
    monkeypatch.setenv("EXAMPLE_ENVIRONMENT", "production")
    monkeypatch.setenv(
        "EXAMPLE_API_TOKENS",
        json.dumps({"s3cret": {"system": "crm", "scopes": ["registration:write"]}}),
    )

    settings = ExampleSettings()

    assert settings.environment == "production"
    assert settings.api_tokens["s3cret"].system == "crm"
    assert settings.api_tokens["s3cret"].scopes == ["registration:write"]


def test_a_database_url_that_is_not_postgresql_is_refused():
    with pytest.raises(ValidationError, match="database_url"):
        ExampleSettings(database_url="mysql://x@y/z")


def test_the_environment_table_lists_prefixed_variables_with_defaults_and_descriptions():
    table = environment_variables_table(ExampleSettings)

    assert table.splitlines()[0] == "| Variable | Default | Description |"
    assert "| `EXAMPLE_DATABASE_URL` | `postgresql://example:example@127.0.0.1:5432/example` | " \
        "The example database. |" in table
    assert "| `EXAMPLE_KAFKA_BOOTSTRAP_SERVERS` | `127.0.0.1:9092` |" in table
    assert "`EXAMPLE_API_TOKENS`" in table
