"""PostgreSQL connection pools and the migration runner every service uses."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Migration:
    name: str  # "shared/001_event_store.sql": namespaced so services and the platform never clash
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_in(folder: Path, namespace: str) -> list[Migration]:
    return [
        Migration(f"{namespace}/{path.name}", path.read_text())
        for path in sorted(folder.glob("*.sql"))
    ]


def platform_migrations() -> list[Migration]:
    return migrations_in(PLATFORM_MIGRATIONS, "shared")


@contextlib.asynccontextmanager
async def connection_from(
    pool: asyncpg.Pool, connection: asyncpg.Connection | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """The caller's connection, so the work joins its transaction, or else one from the pool."""
    if connection is not None:
        yield connection
    else:
        async with pool.acquire() as pooled:
            yield pooled


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, migrations: Iterable[Migration]) -> list[str]:
    """Apply the migrations not yet applied, in order, each in its own transaction.

    An advisory lock serialises concurrent starters (two replicas booting at once); a migration
    whose text changed after it was applied is refused rather than silently skipped."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(727272)")
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       name text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
            for migration in migrations:
                if migration.name in done:
                    if done[migration.name] != migration.checksum:
                        raise RuntimeError(f"migration {migration.name} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(727272)")
    return applied_now
