"""Fixtures shared by every test folder: where the real PostgreSQL and Kafka are.

Integration and end-to-end tests use the real servers that `make test` starts; a missing server
is a failure, never a skip."""

from __future__ import annotations

import os

import pytest

DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://registration:registration@127.0.0.1:5432/registration_test"
)
KAFKA_BOOTSTRAP = os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


@pytest.fixture(scope="session")
def database_url() -> str:
    return DATABASE_URL


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return KAFKA_BOOTSTRAP
