"""Scratch schemas: each test or module works in a fresh schema of the test database, dropped
afterwards, so runs and tests never see each other's tables."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg


async def _execute(database_url: str, statement: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch_schema(database_url: str, prefix: str) -> AsyncIterator[str]:
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _execute(database_url, f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await _execute(database_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
