"""Integration fixtures: an isolated schema in the real PostgreSQL per test, with the platform's
tables migrated into it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db import migrate, platform_migrations


async def _create_schema(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()


async def _drop_schema(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def schema_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose connections see only a fresh schema holding the platform tables."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _create_schema(database_url, schema)
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=20, server_settings={"search_path": schema}
    )
    assert pool is not None
    await migrate(pool, platform_migrations())
    try:
        yield pool
    finally:
        await pool.close()
        await _drop_schema(database_url, schema)
