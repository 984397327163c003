"""Gap-free numbers per series (INV-2026-000001, INV-2026-000002, ...).

A number is taken by incrementing the series' row inside the transaction that issues the document:
the row stays locked until that transaction ends, so concurrent billing runs queue for the next
number instead of sharing it, and a transaction that rolls back hands its number back with it.
Every committed number is therefore used once and none is skipped."""

from __future__ import annotations

from datetime import date

import asyncpg


def series_name(prefix: str, issue_date: date) -> str:
    return f"{prefix}-{issue_date.year}"


async def next_number(conn: asyncpg.Connection, series: str) -> str:
    """The next number of ``series``; call it inside the transaction that records the document."""
    number = await conn.fetchval(
        """INSERT INTO invoice_series (series, last_number) VALUES ($1, 1)
           ON CONFLICT (series) DO UPDATE SET last_number = invoice_series.last_number + 1
           RETURNING last_number""",
        series,
    )
    return f"{series}-{number:06d}"
