"""What every benchmark reports alongside its figures: the code measured, the machine and the
software, medians of per-repetition ratios, and the pyx12 switch the X12 benchmarks compare
against (stock pyx12 parses its XML maps for every document; the platform keeps them per thread)."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import asyncpg
import pyx12.map_if

from shared.x12 import validation

ROOT = Path(__file__).resolve().parents[1]


def code_version(paths: Iterable[str]) -> str:
    """The commit, and which of the files under ``paths`` differ from it (others edit the checkout)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", *paths], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = sorted(f for f in set(dirty) if "/" in f)
    return f"commit {head}" + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else "unknown CPU"


async def header(dsn: str, paths: Iterable[str], packages: Iterable[str]) -> list[str]:
    """The code, the machine, the packages and the PostgreSQL server the figures depend on."""
    conn = await asyncpg.connect(dsn)
    try:
        server = await conn.fetchval("SELECT version()")
    finally:
        await conn.close()
    versions = ", ".join(f"{name} {installed_version(name)}" for name in packages)
    return [
        f"code: {code_version(paths)}",
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}",
        f"Python {platform.python_version()}, {versions}",
        server,
    ]


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def documents_per_second(work: Callable[[Any], object], items: list[Any]) -> float:
    started = time.perf_counter()
    for item in items:
        work(item)
    return len(items) / (time.perf_counter() - started)


@contextlib.contextmanager
def maps_parsed_per_document() -> Iterator[None]:
    """Stock pyx12: its own map loader, which parses the XML maps for every document, instead of
    the platform's cache of parsed maps (shared/x12/validation.py)."""
    pyx12.map_if.load_map_file = validation.parse_map_file
    try:
        yield
    finally:
        pyx12.map_if.load_map_file = validation.load_map_file
