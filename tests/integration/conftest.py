"""Integration fixtures: an isolated schema in the real PostgreSQL per test, with the platform's
tables migrated into it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db import migrate, platform_migrations
from tests.schemas import scratch_schema


@pytest.fixture
async def schema_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose connections see only a fresh schema holding the platform tables."""
    async with scratch_schema(database_url, "t") as schema:
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=20, server_settings={"search_path": schema}
        )
        assert pool is not None
        await migrate(pool, platform_migrations())
        try:
            yield pool
        finally:
            await pool.close()
